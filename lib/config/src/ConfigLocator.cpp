#include "vmi/config/ConfigLocator.hpp"

#include <cstdlib>
#include <sys/stat.h>

namespace vmi {

std::vector<std::string> config_search_path()
{
    std::vector<std::string> paths;
    if (const char* env = std::getenv("VMI_CONFIG"); env && *env) paths.emplace_back(env);
    paths.emplace_back("./libvmi.conf");
    const char* home = std::getenv("HOME");
    if (home && *home) paths.push_back(std::string(home) + "/etc/libvmi.conf");
    paths.emplace_back("/etc/libvmi.conf");
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
        paths.push_back(std::string(xdg) + "/vmitools/vmi.conf");
    else if (home && *home) paths.push_back(std::string(home) + "/.config/vmitools/vmi.conf");
    paths.emplace_back("/etc/vmitools/vmi.conf");
    return paths;
}

std::optional<std::string> find_config_file()
{
    for (const std::string& path : config_search_path()) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return path;
    }
    return std::nullopt;
}

} // namespace vmi
