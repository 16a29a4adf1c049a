// The lowering to ONNX lives in @unias/onnx-lowering (no runtime); re-exported here unchanged.
export * from '@unias/onnx-lowering';
export {
  createOnnxBackend,
  openOnnxDevice,
  onnxBackendCandidates,
  type OnnxDeviceBackend,
  loadOnnxRuntime,
  type OnnxBackend,
  type OnnxBackendOptions,
  type OnnxPrepareOptions,
  type GraphOptimizationLevel,
} from './backend.js';
export {
  DEVICES,
  DEVICE_PROVIDERS,
  DeviceUnavailableError,
  chooseOnnxDevice,
  formatDeviceChoice,
  isDeviceRequest,
  probeProvider,
  shortOrtError,
  type DeviceChoice,
  type DeviceProbeOptions,
  type DeviceRequest,
  type OnnxDevice,
} from './devices.js';
export { detectVulkan, describeDriver, type VulkanInfo, type VulkanDriver, type VulkanDriverKind, type VulkanProbeOptions } from './vulkan.js';
export { detectCuda, ortBindingDir, CUDA_LIBRARIES, type CudaInfo } from './cuda.js';
export { BLOCKED_CONV_OPT_OUT, nchwcBlock } from './nchwc.js';
export { placementFromProfile, formatPlacement, type PlacementReport } from './placement.js';
export { inspectOnnxDevices, INSTALL_HINTS, type OnnxDeviceReport, type DeviceStatus } from './inspect-devices.js';
export {
  HUGE_PAGE_OPT_OUT,
  HUGE_PAGE_TUNABLE,
  hugePageStatus,
  parseThpMode,
  readHugePageFacts,
  withHugePages,
  type HugePageFacts,
  type HugePageStatus,
  type ThpMode,
} from './huge-pages.js';
