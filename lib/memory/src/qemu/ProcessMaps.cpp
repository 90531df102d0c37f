#include "qemu/ProcessMaps.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "vmi/base/Error.hpp"

namespace vmi {

std::vector<HostMapping> read_process_maps(int pid)
{
    std::string maps_path = fmt::format("/proc/{}/maps", pid);
    std::ifstream maps(maps_path);
    if (!maps) fail("cannot read {}: {}", maps_path, std::strerror(errno));
    std::vector<HostMapping> out;
    std::string line;
    while (std::getline(maps, line)) {
        HostMapping m;
        char dash = 0, colon = 0;
        std::string perms, dev;
        std::istringstream in(line);
        in >> std::hex >> m.low >> dash >> m.high >> perms >> m.file_offset >> dev >> std::dec >> m.inode;
        if (!in || dash != '-' || m.high <= m.low || perms.size() < 4) continue;
        std::getline(in >> std::ws, m.path);
        std::istringstream dev_in(dev);
        dev_in >> std::hex >> m.dev_major >> colon >> m.dev_minor;
        m.readable = perms[0] == 'r';
        m.writable = perms[1] == 'w';
        m.shared = perms[3] == 's';
        out.push_back(std::move(m));
    }
    return out;
}

} // namespace vmi
