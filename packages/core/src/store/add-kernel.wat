;; The float32 add loops of the sum rule, with WebAssembly SIMD (f32x4). Addresses are byte
;; offsets into the imported memory, `n` counts floats. `scripts/build-wasm.mjs` assembles this
;; by hand into `add-kernel-wasm.ts` (no wabt needed); keep the two in step.
(module
  (import "env" "memory" (memory 0))

  ;; w[i] += v[i]   for i < n
  (func (export "add") (param $w i32) (param $v i32) (param $n i32)
    (local $i i32) (local $end i32)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $done
      (loop $simd
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (v128.store (i32.add (local.get $w) (local.get $i))
          (f32x4.add
            (v128.load (i32.add (local.get $w) (local.get $i)))
            (v128.load (i32.add (local.get $v) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $simd)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done2
      (loop $tail
        (br_if $done2 (i32.ge_u (local.get $i) (local.get $end)))
        (f32.store (i32.add (local.get $w) (local.get $i))
          (f32.add
            (f32.load (i32.add (local.get $w) (local.get $i)))
            (f32.load (i32.add (local.get $v) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail)))))
