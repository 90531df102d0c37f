#include "vmi/base/PositionalRead.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "vmi/base/Error.hpp"

namespace vmi {

void pread_exactly(int fd, std::uint64_t offset, std::span<std::uint8_t> out, std::string_view what)
{
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("cannot read {} at offset {:#x}: {}", what, offset + done, std::strerror(errno));
        if (n == 0)
            fail("{} ends at offset {:#x}, before the bytes asked for (was it truncated?)", what, offset + done);
        done += static_cast<std::size_t>(n);
    }
}

} // namespace vmi
