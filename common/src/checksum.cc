// XXH3's speed depends on the vector unit it is compiled for. libxxhash is
// built for the x86-64 baseline (SSE2) and hashes at about a third of memcpy's
// rate; tm-step must run on any x86-64, so it cannot simply be built for AVX2.
// With GCC on x86-64 a second copy of XXH3 is therefore compiled here for AVX2
// (xxhash.h's XXH_INLINE_ALL mode, the mechanism xxHash's own x86 dispatcher
// uses) and chosen at run time when the CPU and OS support AVX2. Both copies
// compute the same function; the tests pin it to reference values.
#include "taskmaster/checksum.h"

#include <xxhash.h>

#include <cstdlib>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TM_XXH3_AVX2 1
// Everything xxhash.h includes in XXH_INLINE_ALL mode, included here first so
// that none of it is compiled under the AVX2 target below.
#include <assert.h>
#include <immintrin.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#endif

namespace taskmaster {
namespace {

// One implementation of XXH3: a one-shot hash and a streaming state.
struct Xxh3Impl {
  uint64_t (*hash)(const void* data, size_t size);
  void* (*new_state)();  // reset, ready for updates; nullptr when out of memory
  void (*free_state)(void* state);
  void (*update)(void* state, const void* data, size_t size);
  uint64_t (*digest)(const void* state);
};

// libxxhash, as linked. These must come before the inline copy below, which
// redefines the XXH3_* names to refer to itself.
const Xxh3Impl kLibrary = {
    [](const void* data, size_t size) -> uint64_t { return XXH3_64bits(data, size); },
    []() -> void* {
      XXH3_state_t* state = XXH3_createState();
      if (state != nullptr) XXH3_64bits_reset(state);
      return state;
    },
    [](void* state) { XXH3_freeState(static_cast<XXH3_state_t*>(state)); },
    [](void* state, const void* data, size_t size) {
      XXH3_64bits_update(static_cast<XXH3_state_t*>(state), data, size);
    },
    [](const void* state) -> uint64_t {
      return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state));
    },
};

}  // namespace
}  // namespace taskmaster

#ifdef TM_XXH3_AVX2
#pragma GCC push_options
#pragma GCC target("avx2")
#define XXH_INLINE_ALL
#define XXH_VECTOR XXH_AVX2
#include <xxhash.h>

namespace taskmaster {
namespace {

// Compiled for AVX2 like the inline XXH3 they call: only run where the CPU has it.
uint64_t Avx2Hash(const void* data, size_t size) {
  return XXH3_64bits(data, size);
}
void* Avx2NewState() {
  XXH3_state_t* state = XXH3_createState();
  if (state != nullptr) XXH3_64bits_reset(state);
  return state;
}
void Avx2FreeState(void* state) {
  XXH3_freeState(static_cast<XXH3_state_t*>(state));
}
void Avx2Update(void* state, const void* data, size_t size) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state), data, size);
}
uint64_t Avx2Digest(const void* state) {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state));
}

}  // namespace
}  // namespace taskmaster

#pragma GCC pop_options
#endif  // TM_XXH3_AVX2

namespace taskmaster {
namespace {

// Chosen once; a stream keeps the implementation its state was made by.
const Xxh3Impl& Impl() {
#ifdef TM_XXH3_AVX2
  static const Xxh3Impl kAvx2 = {Avx2Hash, Avx2NewState, Avx2FreeState, Avx2Update, Avx2Digest};
  static const Xxh3Impl* const impl = [] {
    // libgcc checks that the OS saves the AVX registers, not just the CPU flag.
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? &kAvx2 : &kLibrary;
  }();
  return *impl;
#else
  return kLibrary;
#endif
}

}  // namespace

uint64_t Xxh3(std::string_view data) {
  return Impl().hash(data.data(), data.size());
}

std::string Hex64(uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(16, '0');
  for (int i = 15; i >= 0; --i) {
    hex[static_cast<size_t>(i)] = kDigits[value & 0xf];
    value >>= 4;
  }
  return hex;
}

std::string Xxh3Tagged(std::string_view data) {
  return "xxh3:" + Hex64(Xxh3(data));
}

Xxh3Stream::Xxh3Stream() : state_(Impl().new_state()) {
  // Out of memory for a few hundred bytes: nothing sensible is left to do.
  if (state_ == nullptr) std::abort();
}

Xxh3Stream::~Xxh3Stream() {
  Impl().free_state(state_);
}

void Xxh3Stream::Update(std::string_view data) {
  Impl().update(state_, data.data(), data.size());
}

uint64_t Xxh3Stream::Digest() const {
  return Impl().digest(state_);
}

}  // namespace taskmaster
