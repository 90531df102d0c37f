#pragma once
// A client's connection to a UNIX stream socket that QEMU serves (its QMP
// monitor, its guest agent's chardev).
#include <string>
#include <string_view>

namespace vmi {

// A connected, close-on-exec socket. Throws vmi::Error "cannot connect to
// WHAT 'PATH': REASON" (then `refused_hint` when nothing listens there), or
// when the path is empty or longer than a UNIX socket path may be.
int connect_unix_socket(const std::string& path, const std::string& what, const std::string& refused_hint = {});

// Sends all of `text` on `fd` (no SIGPIPE); throws vmi::Error "WHO: cannot send: ...".
void send_all(int fd, std::string_view text, const std::string& who);

} // namespace vmi
