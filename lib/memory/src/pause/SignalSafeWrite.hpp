#pragma once
// Writes all of `size` bytes to `fd` with write(2) alone: async-signal-safe,
// for a signal handler or a forked child of a process with threads. Gives up
// silently on an error (there is no one left to tell).
#include <cerrno>
#include <cstddef>
#include <unistd.h>

namespace vmi {

inline void write_all_signal_safe(int fd, const char* text, std::size_t size) noexcept
{
    while (size > 0) {
        ssize_t n = ::write(fd, text, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text += n;
        size -= static_cast<std::size_t>(n);
    }
}

} // namespace vmi
