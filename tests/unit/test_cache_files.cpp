// The helpers every cache shares: its folder, its entries' names (FNV-1a) and
// writing an entry so that a reader never sees half of it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "ScopedEnv.hpp"
#include "vmi/base/AtomicFileWrite.hpp"
#include "vmi/base/CacheDirectory.hpp"
#include "vmi/base/Fnv1a.hpp"

namespace {

using vmi_test::ScopedEnv;

std::string slurp(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace

TEST_CASE("cache directory: VMI_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache; the switch turns it off")
{
    ScopedEnv off("VMI_TEST_CACHE", std::nullopt);
    ScopedEnv home("HOME", "/home/u");
    {
        ScopedEnv dir("VMI_CACHE_DIR", "/srv/c");
        ScopedEnv xdg("XDG_CACHE_HOME", "/x");
        CHECK(vmi::cache_directory("btf", "VMI_TEST_CACHE") == "/srv/c/btf");
    }
    {
        ScopedEnv dir("VMI_CACHE_DIR", "");
        ScopedEnv xdg("XDG_CACHE_HOME", "/x");
        CHECK(vmi::cache_directory("kernels", "VMI_TEST_CACHE") == "/x/vmitools/kernels");
    }
    ScopedEnv dir("VMI_CACHE_DIR", std::nullopt);
    ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
    CHECK(vmi::cache_directory("kernels", "VMI_TEST_CACHE") == "/home/u/.cache/vmitools/kernels");
    {
        ScopedEnv disabled("VMI_TEST_CACHE", "0");
        CHECK(vmi::cache_directory("kernels", "VMI_TEST_CACHE").empty());
    }
    {
        ScopedEnv enabled("VMI_TEST_CACHE", "1");
        CHECK(vmi::cache_directory("kernels", "VMI_TEST_CACHE") == "/home/u/.cache/vmitools/kernels");
    }
    ScopedEnv nohome("HOME", std::nullopt);
    CHECK(vmi::cache_directory("kernels", "VMI_TEST_CACHE").empty());
}

TEST_CASE("FNV-1a 64: the reference vectors, whole or byte by byte")
{
    CHECK(vmi::fnv1a("") == 0xcbf29ce484222325ULL);
    CHECK(vmi::fnv1a("a") == 0xaf63dc4c8601ec8cULL);
    CHECK(vmi::fnv1a("foobar") == 0x85944171f73967e8ULL);
    vmi::Fnv1a hash;
    for (char c : std::string("foo")) hash.add(static_cast<std::uint8_t>(c));
    hash.add(std::string_view("bar"));
    CHECK(hash.value() == 0x85944171f73967e8ULL);
}

TEST_CASE("atomic file write: the folder is made, the file replaced whole, no temporary left")
{
    std::filesystem::path root = std::filesystem::temp_directory_path() / ("vmi-atomic-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root);
    std::filesystem::path file = root / "a" / "b" / "entry";
    REQUIRE(vmi::write_file_atomically(file.string(), std::string_view("first\n")));
    CHECK(slurp(file) == "first\n");
    REQUIRE(vmi::write_file_atomically(file.string(), std::string_view("second, longer\n")));
    CHECK(slurp(file) == "second, longer\n");
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& item : std::filesystem::directory_iterator(file.parent_path())) ++entries;
    CHECK(entries == 1);

    // A folder where the file should go: the rename fails, and nothing is left behind.
    std::filesystem::create_directories(root / "dir");
    std::filesystem::create_directories(root / "dir" / "taken" / "inside");
    CHECK_FALSE(vmi::write_file_atomically((root / "dir" / "taken").string(), std::string_view("x")));
    entries = 0;
    for ([[maybe_unused]] const auto& item : std::filesystem::directory_iterator(root / "dir")) ++entries;
    CHECK(entries == 1);
    std::filesystem::remove_all(root);
}
