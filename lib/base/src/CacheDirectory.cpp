#include "vmi/base/CacheDirectory.hpp"

#include <cstdlib>

namespace vmi {

std::string cache_directory(std::string_view kind, const char* switch_variable)
{
    const char* enabled = std::getenv(switch_variable);
    if (enabled && std::string_view(enabled) == "0") return {};
    if (const char* dir = std::getenv("VMI_CACHE_DIR"); dir && *dir) return std::string(dir) + "/" + std::string(kind);
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
        return std::string(xdg) + "/vmitools/" + std::string(kind);
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::string(home) + "/.cache/vmitools/" + std::string(kind);
    return {};
}

} // namespace vmi
