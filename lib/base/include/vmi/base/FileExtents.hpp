#pragma once
// Where a file holds data: the extents lseek(SEEK_DATA / SEEK_HOLE) reports
// within [offset, offset + size). A hole reads as zeros and costs nothing to
// skip: a sparse dump's untouched RAM, a memfd page a guest never used. A
// file system without hole support reports one extent, the whole range.
#include <cstdint>
#include <utility>
#include <vector>

namespace vmi {

struct FileExtent {
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
};

// At most `max_extents` extents: past that, the rest of the range is one
// extent (as if it had no holes). On any error, the whole range.
std::vector<FileExtent> file_data_extents(int fd, std::uint64_t offset, std::uint64_t size,
                                          std::size_t max_extents = std::size_t{1} << 16);

} // namespace vmi
