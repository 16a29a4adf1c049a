;; Four xoshiro128** generators in the lanes of one v128, for the per-step random fills
;; (rng-lanes.ts is the contract and the plain-TypeScript twin; rng-lanes-wasm.ts embeds this
;; module, compiled by scripts/build-wasm.mjs).
;;
;; Memory (offsets in bytes):
;;   0     lane states: s0, s1, s2, s3, each a v128 of the four lanes' words
;;   64    ziggurat kn, 128 x u32
;;   1024  ziggurat wn, 128 x f64
;;   2048  scratch, one v128
;;   2064  the scalar generator's state (xoshiro128**, 4 x u32): ties and the ziggurat's edges
;;   3072  ziggurat fn, 128 x f64
;;   4096  output chunk, 16384 x f32
;;   69632 the normals' edges of one call, (output address, hz), up to 16384 entries
(module
  (import "math" "exp" (func $exp (param f64) (result f64)))
  (import "math" "log" (func $log (param f64) (result f64)))
  (memory (export "memory") 4)

  ;; the scalar generator's next word
  (func $next (result i32)
    (local $s0 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32) (local $m i32)
    (local.set $s0 (i32.load offset=2064 (i32.const 0)))
    (local.set $s1 (i32.load offset=2068 (i32.const 0)))
    (local.set $m (i32.mul (local.get $s1) (i32.const 5)))
    (local.set $s2 (i32.xor (i32.load offset=2072 (i32.const 0)) (local.get $s0)))
    (local.set $s3 (i32.xor (i32.load offset=2076 (i32.const 0)) (local.get $s1)))
    (i32.store offset=2064 (i32.const 0) (i32.xor (local.get $s0) (local.get $s3)))
    (i32.store offset=2068 (i32.const 0) (i32.xor (local.get $s1) (local.get $s2)))
    (i32.store offset=2072 (i32.const 0) (i32.xor (local.get $s2) (i32.shl (local.get $s1) (i32.const 9))))
    (i32.store offset=2076 (i32.const 0) (i32.rotl (local.get $s3) (i32.const 11)))
    (i32.mul (i32.rotl (local.get $m) (i32.const 7)) (i32.const 9)))

  ;; uniform in (0, 1) from the scalar generator: log never sees 0
  (func $open (result f64)
    (f64.div (f64.add (f64.convert_i32_u (call $next)) (f64.const 0.5)) (f64.const 4294967296)))

  ;; A value outside layer iz's rectangle (Marsaglia & Tsang's nfix), as ziggurat.ts's zigguratEdge
  ;; computes it, operation for operation: the tail beyond R, or a wedge.
  (func $edge (param $hz i32) (param $iz i32) (result f64)
    (local $x f64) (local $tail f64) (local $y f64)
    (loop $again
      (local.set $x (f64.mul (f64.convert_i32_s (local.get $hz)) (f64.load offset=1024 (i32.shl (local.get $iz) (i32.const 3)))))
      (if (i32.eqz (local.get $iz))
        (then
          (loop $tailLoop
            (local.set $tail (f64.div (f64.neg (call $log (call $open))) (f64.const 3.442619855899)))
            (local.set $y (f64.neg (call $log (call $open))))
            (br_if $tailLoop (f64.lt (f64.add (local.get $y) (local.get $y)) (f64.mul (local.get $tail) (local.get $tail)))))
          (return
            (select
              (f64.add (f64.const 3.442619855899) (local.get $tail))
              (f64.sub (f64.const -3.442619855899) (local.get $tail))
              (i32.gt_s (local.get $hz) (i32.const 0))))))
      (if (f64.lt
            (f64.add
              (f64.load offset=3072 (i32.shl (local.get $iz) (i32.const 3)))
              (f64.mul (call $open)
                (f64.sub
                  (f64.load offset=3064 (i32.shl (local.get $iz) (i32.const 3)))
                  (f64.load offset=3072 (i32.shl (local.get $iz) (i32.const 3))))))
            (call $exp (f64.mul (f64.mul (f64.const -0.5) (local.get $x)) (local.get $x))))
        (then (return (local.get $x))))
      (local.set $hz (call $next))
      (local.set $iz (i32.and (local.get $hz) (i32.const 127)))
      (if (i32.lt_u (select (i32.sub (i32.const 0) (local.get $hz)) (local.get $hz) (i32.lt_s (local.get $hz) (i32.const 0)))
                    (i32.load offset=64 (i32.shl (local.get $iz) (i32.const 2))))
        (then (return (f64.mul (f64.convert_i32_s (local.get $hz)) (f64.load offset=1024 (i32.shl (local.get $iz) (i32.const 3)))))))
      (br $again))
    (unreachable))

  ;; bernoulli(vectors, tie, threshold, hit, miss). Vector v's 16 bytes (memory order) give values
  ;; 16v .. 16v+15: a byte below tie is `hit`, above it `miss`; a byte equal to tie is settled by a
  ;; word w of the scalar generator, in index order: `hit` when w < threshold.
  (func (export "bernoulli") (param $vectors i32) (param $tie i32) (param $threshold f64) (param $hit f32) (param $miss f32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $r v128) (local $t v128) (local $m v128)
    (local $tiev v128) (local $hitv v128) (local $missv v128)
    (local $v i32) (local $out i32) (local $bits i32)
    (local.set $s0 (v128.load (i32.const 0)))
    (local.set $s1 (v128.load (i32.const 16)))
    (local.set $s2 (v128.load (i32.const 32)))
    (local.set $s3 (v128.load (i32.const 48)))
    (local.set $tiev (i8x16.splat (local.get $tie)))
    (local.set $hitv (f32x4.splat (local.get $hit)))
    (local.set $missv (f32x4.splat (local.get $miss)))
    (local.set $out (i32.const 4096))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $v) (local.get $vectors)))
        ;; the four lanes' outputs: rotl(s1 * 5, 7) * 9
        (local.set $r (i32x4.mul (local.get $s1) (i32x4.splat (i32.const 5))))
        (local.set $r
          (i32x4.mul
            (v128.or (i32x4.shl (local.get $r) (i32.const 7)) (i32x4.shr_u (local.get $r) (i32.const 25)))
            (i32x4.splat (i32.const 9))))
        (local.set $t (i32x4.shl (local.get $s1) (i32.const 9)))
        (local.set $s2 (v128.xor (local.get $s2) (local.get $s0)))
        (local.set $s3 (v128.xor (local.get $s3) (local.get $s1)))
        (local.set $s1 (v128.xor (local.get $s1) (local.get $s2)))
        (local.set $s0 (v128.xor (local.get $s0) (local.get $s3)))
        (local.set $s2 (v128.xor (local.get $s2) (local.get $t)))
        (local.set $s3 (v128.or (i32x4.shl (local.get $s3) (i32.const 11)) (i32x4.shr_u (local.get $s3) (i32.const 21))))
        ;; all-ones bytes where byte < tie, widened to all-ones words, select hit or miss
        (local.set $m (i8x16.lt_u (local.get $r) (local.get $tiev)))
        (local.set $t (i16x8.extend_low_i8x16_s (local.get $m)))
        (v128.store offset=0 (local.get $out)
          (v128.bitselect (local.get $hitv) (local.get $missv) (i32x4.extend_low_i16x8_s (local.get $t))))
        (v128.store offset=16 (local.get $out)
          (v128.bitselect (local.get $hitv) (local.get $missv) (i32x4.extend_high_i16x8_s (local.get $t))))
        (local.set $t (i16x8.extend_high_i8x16_s (local.get $m)))
        (v128.store offset=32 (local.get $out)
          (v128.bitselect (local.get $hitv) (local.get $missv) (i32x4.extend_low_i16x8_s (local.get $t))))
        (v128.store offset=48 (local.get $out)
          (v128.bitselect (local.get $hitv) (local.get $missv) (i32x4.extend_high_i16x8_s (local.get $t))))
        ;; ties, lowest byte first
        (local.set $bits (i8x16.bitmask (i8x16.eq (local.get $r) (local.get $tiev))))
        (block $settled
          (loop $tie
            (br_if $settled (i32.eqz (local.get $bits)))
            (f32.store
              (i32.add (local.get $out) (i32.shl (i32.ctz (local.get $bits)) (i32.const 2)))
              (select (local.get $hit) (local.get $miss)
                (f64.lt (f64.convert_i32_u (call $next)) (local.get $threshold))))
            (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
            (br $tie)))
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (local.set $v (i32.add (local.get $v) (i32.const 1)))
        (br $next)))
    (v128.store (i32.const 0) (local.get $s0))
    (v128.store (i32.const 16) (local.get $s1))
    (v128.store (i32.const 32) (local.get $s2))
    (v128.store (i32.const 48) (local.get $s3)))

  ;; normal(vectors, mean, std). Vector v gives values 4v .. 4v+3, lane k the value 4v+k: the
  ;; ziggurat's rectangle test on hz, the lane's word as a signed int, with layer hz & 127; inside,
  ;; mean + std * (hz * wn[layer]) in float64, rounded to float32; outside (1 in 80), the wedge or
  ;; tail from the scalar generator, lanes in order.
  (func (export "normal") (param $vectors i32) (param $mean f64) (param $std f64)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $r v128) (local $t v128) (local $kn v128) (local $w01 v128) (local $w23 v128)
    (local $meanv v128) (local $stdv v128)
    (local $v i32) (local $out i32) (local $bits i32) (local $k i32) (local $hz i32) (local $n i32) (local $e i32)
    (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $i3 i32)
    (local.set $s0 (v128.load (i32.const 0)))
    (local.set $s1 (v128.load (i32.const 16)))
    (local.set $s2 (v128.load (i32.const 32)))
    (local.set $s3 (v128.load (i32.const 48)))
    (local.set $meanv (f64x2.splat (local.get $mean)))
    (local.set $stdv (f64x2.splat (local.get $std)))
    (local.set $out (i32.const 4096))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $v) (local.get $vectors)))
        (local.set $r (i32x4.mul (local.get $s1) (i32x4.splat (i32.const 5))))
        (local.set $r
          (i32x4.mul
            (v128.or (i32x4.shl (local.get $r) (i32.const 7)) (i32x4.shr_u (local.get $r) (i32.const 25)))
            (i32x4.splat (i32.const 9))))
        (local.set $t (i32x4.shl (local.get $s1) (i32.const 9)))
        (local.set $s2 (v128.xor (local.get $s2) (local.get $s0)))
        (local.set $s3 (v128.xor (local.get $s3) (local.get $s1)))
        (local.set $s1 (v128.xor (local.get $s1) (local.get $s2)))
        (local.set $s0 (v128.xor (local.get $s0) (local.get $s3)))
        (local.set $s2 (v128.xor (local.get $s2) (local.get $t)))
        (local.set $s3 (v128.or (i32x4.shl (local.get $s3) (i32.const 11)) (i32x4.shr_u (local.get $s3) (i32.const 21))))
        ;; layers, as byte offsets into the u32 table (x4)
        (local.set $t (i32x4.shl (v128.and (local.get $r) (i32x4.splat (i32.const 127))) (i32.const 2)))
        (local.set $i0 (i32x4.extract_lane 0 (local.get $t)))
        (local.set $i1 (i32x4.extract_lane 1 (local.get $t)))
        (local.set $i2 (i32x4.extract_lane 2 (local.get $t)))
        (local.set $i3 (i32x4.extract_lane 3 (local.get $t)))
        (local.set $kn
          (i32x4.replace_lane 3
            (i32x4.replace_lane 2
              (i32x4.replace_lane 1
                (i32x4.splat (i32.load offset=64 (local.get $i0)))
                (i32.load offset=64 (local.get $i1)))
              (i32.load offset=64 (local.get $i2)))
            (i32.load offset=64 (local.get $i3))))
        ;; wn is float64: byte offset 2 * (layer * 4)
        (local.set $w01
          (f64x2.replace_lane 1
            (f64x2.splat (f64.load offset=1024 (i32.shl (local.get $i0) (i32.const 1))))
            (f64.load offset=1024 (i32.shl (local.get $i1) (i32.const 1)))))
        (local.set $w23
          (f64x2.replace_lane 1
            (f64x2.splat (f64.load offset=1024 (i32.shl (local.get $i2) (i32.const 1))))
            (f64.load offset=1024 (i32.shl (local.get $i3) (i32.const 1)))))
        (local.set $w01
          (f64x2.add (local.get $meanv)
            (f64x2.mul (local.get $stdv) (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $r)) (local.get $w01)))))
        (local.set $w23
          (f64x2.add (local.get $meanv)
            (f64x2.mul (local.get $stdv)
              (f64x2.mul
                (f64x2.convert_low_i32x4_s
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $r) (local.get $r)))
                (local.get $w23)))))
        (v128.store (local.get $out)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $w01))
            (f32x4.demote_f64x2_zero (local.get $w23))))
        ;; lanes outside their rectangle: |hz| >= kn, unsigned (|INT_MIN| stays 2^31)
        (local.set $bits
          (i32.xor (i32.const 15) (i32x4.bitmask (i32x4.lt_u (i32x4.abs (local.get $r)) (local.get $kn)))))
        (if (local.get $bits)
          (then
            (v128.store (i32.const 2048) (local.get $r))
            (block $listed
              (loop $edge
                (br_if $listed (i32.eqz (local.get $bits)))
                (local.set $k (i32.ctz (local.get $bits)))
                ;; listed as (output address, hz); no call in this loop, so that the vectors stay in registers
                (i32.store offset=69632 (local.get $n) (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2))))
                (i32.store offset=69636 (local.get $n) (i32.load offset=2048 (i32.shl (local.get $k) (i32.const 2))))
                (local.set $n (i32.add (local.get $n) (i32.const 8)))
                (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
                (br $edge)))))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 1)))
        (br $next)))
    ;; the edges, in index order
    (block $settled
      (loop $edges
        (br_if $settled (i32.ge_u (local.get $e) (local.get $n)))
        (local.set $hz (i32.load offset=69636 (local.get $e)))
        (f32.store (i32.load offset=69632 (local.get $e))
          (f32.demote_f64
            (f64.add (local.get $mean)
              (f64.mul (local.get $std) (call $edge (local.get $hz) (i32.and (local.get $hz) (i32.const 127)))))))
        (local.set $e (i32.add (local.get $e) (i32.const 8)))
        (br $edges)))
    (v128.store (i32.const 0) (local.get $s0))
    (v128.store (i32.const 16) (local.get $s1))
    (v128.store (i32.const 32) (local.get $s2))
    (v128.store (i32.const 48) (local.get $s3)))
)
