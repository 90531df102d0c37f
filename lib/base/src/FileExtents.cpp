#include "vmi/base/FileExtents.hpp"

#include <cerrno>
#include <unistd.h>

namespace vmi {

std::vector<FileExtent> file_data_extents(int fd, std::uint64_t offset, std::uint64_t size, std::size_t max_extents)
{
    std::vector<FileExtent> out;
    std::uint64_t end = offset + size;
    std::uint64_t at = offset;
    while (at < end) {
        if (out.size() + 1 >= max_extents) {
            out.push_back({at, end - at});
            return out;
        }
        off_t data = ::lseek(fd, static_cast<off_t>(at), SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) break; // no data from `at` to the end of the file
            return {{offset, size}};   // no hole support, or an error: all of it
        }
        auto data_at = static_cast<std::uint64_t>(data);
        if (data_at >= end) break;
        off_t hole = ::lseek(fd, data, SEEK_HOLE);
        std::uint64_t hole_at = hole < 0 ? end : std::min<std::uint64_t>(static_cast<std::uint64_t>(hole), end);
        if (hole_at <= data_at) return {{offset, size}};
        out.push_back({data_at, hole_at - data_at});
        at = hole_at;
    }
    return out;
}

} // namespace vmi
