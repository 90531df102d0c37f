#pragma once
// Reads of a file (a dump, a guest's memfd) by pread rather than through a
// mapping of it. Every page touched through a mapping stays in this
// process's RSS until it is unmapped, and a read fault on a shared memfd
// mapping allocates a page the guest never touched, costing the host RAM;
// pread copies from the page cache, keeps nothing and allocates nothing for a
// hole. Walks read a few bytes at a time, for which the mapping is faster: a
// read of STREAMED_READ bytes or more (the scans of all RAM) goes by pread.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace vmi {

constexpr std::size_t STREAMED_READ = std::size_t{64} << 10;

// Exactly out.size() bytes of `fd` at `offset`; throws vmi::Error naming
// `what` on an I/O error or when the file ends first.
void pread_exactly(int fd, std::uint64_t offset, std::span<std::uint8_t> out, std::string_view what);

} // namespace vmi
