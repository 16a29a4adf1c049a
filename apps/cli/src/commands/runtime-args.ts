/** `--backend` and `--device`, shared by the commands that run a model. */
import { DEVICES, isDeviceRequest, type DeviceRequest } from '@unias/backend-onnx';
import { UsageError } from '../errors.js';
import { BACKENDS, type BackendName, suggestion } from '@unias/engine';

export function backendArg(v: string | undefined): BackendName {
  const b = v ?? 'onnx';
  if (!(BACKENDS as readonly string[]).includes(b))
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got "${b}"${suggestion(b, BACKENDS)}`);
  return b as BackendName;
}

/** `--device`: undefined when not given (the engine's default, auto). */
export function deviceArg(v: string | undefined): DeviceRequest | undefined {
  if (v === undefined) return undefined;
  if (!isDeviceRequest(v)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}, got "${v}"${suggestion(v, DEVICES)}`);
  return v;
}
