#include "vmi/base/HostRoot.hpp"

#include <cstdlib>
#include <filesystem>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// The root itself, "/" by default.
std::string host_root()
{
    const char* root = std::getenv("VMI_HOST_ROOT");
    if (root == nullptr || *root == '\0') return "/";
    std::error_code error;
    if (!std::filesystem::is_directory(root, error))
        fail("VMI_HOST_ROOT '{}' is not a directory (it is where the host's /run, /etc and /var are read)", root);
    return root;
}

} // namespace

std::string host_path(std::string_view path)
{
    std::string root = host_root();
    if (root == "/") return std::string(path);
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    return root + (path.starts_with('/') ? "" : "/") + std::string(path);
}

} // namespace vmi
