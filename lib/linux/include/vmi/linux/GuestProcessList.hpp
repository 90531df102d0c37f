#pragma once
// The guest's own list of its processes, as a script collected it inside the
// guest: `ps -e -o pid=,comm=` (or busybox ps, whose header line is skipped),
// or the numeric names in /proc, one per line. The first word of a line is
// the pid; the last, when there are more, the name.
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace vmi {

struct GuestProcess {
    std::int64_t pid = 0;
    std::string name; // empty for a bare /proc name
};

// A POSIX shell script (for `sh -c`) that prints the guest's own list in that
// form, "PID COMM" a line: each numeric name in /proc, as the guest's ps sees
// them, with the first line of its comm. It uses shell builtins only, so the
// one process of its own in the list is the shell. What a guest agent runs.
inline constexpr const char* PROC_LISTING_SCRIPT =
    R"(cd /proc || exit 1; for p in [0-9]*; do c=; read -r c 2>/dev/null < "$p/comm"; echo "$p $c"; done)";

// Lines whose first word is not a pid (headers, blank lines) are skipped;
// at most `max_lines` lines and 4 KiB per line are read.
std::vector<GuestProcess> parse_guest_process_list(std::istream& in, std::size_t max_lines = 1 << 22);

} // namespace vmi
