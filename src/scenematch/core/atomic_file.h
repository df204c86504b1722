// Files that must never be seen half-written (checkpoints, indexes, caches):
// write to PATH.tmp.<pid>, fsync, rename over PATH.
#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace sm {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& writer);
void write_file_atomic(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

// 64-bit FNV-1a of bytes; used to key caches and stamp manifests.
uint64_t fnv1a64(const void* data, size_t size, uint64_t seed = 1469598103934665603ull);
// Hash of a whole file, streamed; hex string.
std::string file_hash_hex(const std::string& path);

}  // namespace sm
