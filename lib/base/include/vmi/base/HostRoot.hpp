#pragma once
// The root every host discovery path is read under: $VMI_HOST_ROOT, else "/".
// A tool in a container that mounts the host at /host sets VMI_HOST_ROOT=/host;
// tests lay out a Proxmox or KubeVirt node in a folder the same way.
#include <string>
#include <string_view>

namespace vmi {

// `path` (absolute, as on the host) under the root. Throws vmi::Error when
// VMI_HOST_ROOT is set but is not an existing directory.
std::string host_path(std::string_view path);

} // namespace vmi
