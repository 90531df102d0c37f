#pragma once
// One function per compression the Linux boot decompressor knows. Each
// decodes a single stream from the start of `input` into `out` and stops at
// its end: whatever follows (the kernel appends the uncompressed size) is
// ignored. Corrupt or truncated input throws vmi::Error naming the file.
#include <cstdint>
#include <span>

#include "decompress/BoundedOutput.hpp"

namespace vmi::decompress {

void gunzip(std::span<const std::uint8_t> input, BoundedOutput& out);
void bunzip2(std::span<const std::uint8_t> input, BoundedOutput& out);
void unxz(std::span<const std::uint8_t> input, BoundedOutput& out);
void unlzma(std::span<const std::uint8_t> input, BoundedOutput& out); // the legacy .lzma ("LZMA_Alone") format
void unlzo(std::span<const std::uint8_t> input, BoundedOutput& out);  // lzop's file format
void unlz4(std::span<const std::uint8_t> input, BoundedOutput& out);  // lz4's legacy frame (lz4 -l)
void unzstd(std::span<const std::uint8_t> input, BoundedOutput& out);

} // namespace vmi::decompress
