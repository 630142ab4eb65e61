/*
 * Fuzz target `state`: libFuzzer's entry point for the Rust harness in fuzz/src/lib.rs
 * (the persisted-state decoder and the open path on a memory store). See fuzz/README.md.
 */
#include <stddef.h>
#include <stdint.h>

int32_t sesh_fuzz_state(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return sesh_fuzz_state(data, size);
}
