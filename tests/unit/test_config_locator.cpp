// Where a config file is looked for without -c: $VMI_CONFIG, LibVMI's
// places, then ours ($XDG_CONFIG_HOME or ~/.config, /etc/vmitools).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ImageFileBuilder.hpp"
#include "ScopedEnv.hpp"
#include "vmi/config/ConfigLocator.hpp"

namespace {

using vmi_test::ScopedEnv;

class ScopedCwd {
public:
    explicit ScopedCwd(const std::string& dir) : old_(std::filesystem::current_path())
    {
        std::filesystem::current_path(dir);
    }
    ~ScopedCwd() { std::filesystem::current_path(old_); }

private:
    std::filesystem::path old_;
};

} // namespace

TEST_CASE("config search path: order with every variable set")
{
    ScopedEnv vmi("VMI_CONFIG", "/tmp/x.conf");
    ScopedEnv home("HOME", "/home/ann");
    ScopedEnv xdg("XDG_CONFIG_HOME", "/home/ann/.xdg");
    CHECK(vmi::config_search_path() ==
          std::vector<std::string>{"/tmp/x.conf", "./libvmi.conf", "/home/ann/etc/libvmi.conf", "/etc/libvmi.conf",
                                   "/home/ann/.xdg/vmitools/vmi.conf", "/etc/vmitools/vmi.conf"});
}

TEST_CASE("config search path: unset or empty variables are left out")
{
    ScopedEnv vmi("VMI_CONFIG", "");
    ScopedEnv home("HOME", "/root");
    ScopedEnv xdg("XDG_CONFIG_HOME", std::nullopt);
    CHECK(vmi::config_search_path() == std::vector<std::string>{"./libvmi.conf", "/root/etc/libvmi.conf",
                                                                "/etc/libvmi.conf", "/root/.config/vmitools/vmi.conf",
                                                                "/etc/vmitools/vmi.conf"});
    ScopedEnv no_home("HOME", std::nullopt);
    CHECK(vmi::config_search_path() ==
          std::vector<std::string>{"./libvmi.conf", "/etc/libvmi.conf", "/etc/vmitools/vmi.conf"});
}

TEST_CASE("config search: the first existing regular file wins")
{
    vmi_test::TempDir dir;
    std::filesystem::create_directories(dir.file("home/etc"));
    std::filesystem::create_directories(dir.file("cwd"));
    std::string home_conf = dir.write("home/etc/libvmi.conf", "g { }\n");
    std::string explicit_conf = dir.write("explicit.conf", "g { }\n");
    ScopedCwd cwd(dir.file("cwd"));
    ScopedEnv home("HOME", dir.file("home"));
    ScopedEnv xdg("XDG_CONFIG_HOME", std::nullopt);

    {
        ScopedEnv vmi("VMI_CONFIG", explicit_conf);
        CHECK(vmi::find_config_file() == explicit_conf);
    }
    {
        // A directory or a missing file is skipped.
        ScopedEnv vmi("VMI_CONFIG", dir.file("home"));
        CHECK(vmi::find_config_file() == home_conf);
        ScopedEnv missing("VMI_CONFIG", dir.file("nope.conf"));
        CHECK(vmi::find_config_file() == home_conf);
    }
    {
        // ./libvmi.conf comes before $HOME's.
        ScopedEnv vmi("VMI_CONFIG", std::nullopt);
        dir.write("cwd/libvmi.conf", "g { }\n");
        CHECK(vmi::find_config_file() == "./libvmi.conf");
    }
}
