// Raw images (pmemsave, dd) through open_image_file: file offset = physical
// address; size must be whole pages; other dump formats are named, not
// mistaken for RAM.
#include <doctest/doctest.h>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include "ForkWithPipe.hpp"
#include "ImageFileBuilder.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/DumpFile.hpp"

using namespace vmi_test;

TEST_CASE("raw image: a whole number of pages is RAM from physical 0")
{
    TempDir dir;
    const std::string data = pattern(0x100000 + 0x3000, 0x5a);
    std::string path = dir.write("guest.raw", data);
    auto memory = vmi::open_image_file(path, false);
    REQUIRE(memory->ranges().size() == 1);
    CHECK(memory->ranges()[0].start == 0);
    CHECK(memory->ranges()[0].size == 0x103000);
    CHECK_FALSE(memory->registers().has_value());
    CHECK_FALSE(memory->writable());
    CHECK(memory->describe() == "raw image '" + path + "' (1 RAM range, 1 MiB)");
    CHECK(read_phys(*memory, 0, 8) == data.substr(0, 8));
    CHECK(read_phys(*memory, 0xfff8, 16) == data.substr(0xfff8, 16));
    CHECK(read_phys(*memory, 0x102ff0, 16) == data.substr(0x102ff0, 16));
    CHECK_THROWS_WITH_AS(read_phys(*memory, 0x102ff8, 16),
                         "physical address 0x103000 is not in guest RAM (hole or past the end of the image)",
                         vmi::Error);
    CHECK(memory->is_ram(0x102fff));
    CHECK_FALSE(memory->is_ram(0x103000));
}

TEST_CASE("raw image: a single page works")
{
    TempDir dir;
    auto memory = vmi::open_image_file(dir.write("page.raw", std::string(4096, '\x01')), false);
    CHECK(memory->ranges()[0].size == 4096);
}

TEST_CASE("raw image: sizes that are not whole pages are rejected")
{
    TempDir dir;
    for (std::size_t size : {std::size_t{1}, std::size_t{4095}, std::size_t{4097}, std::size_t{0x3000 + 512}}) {
        INFO(size);
        std::string path = dir.write("odd.raw", std::string(size, 'x'));
        CHECK(open_error(path) == "image '" + path + "' is neither an ELF core nor a raw memory image (its size, " +
                                      std::to_string(size) + " bytes, is not a multiple of 4096)");
    }
}

TEST_CASE("raw image: empty, missing and non-regular files")
{
    TempDir dir;
    std::string empty = dir.write("empty.raw", "");
    CHECK(open_error(empty) == "image '" + empty + "' is empty");
    std::string missing = dir.file("missing.raw");
    CHECK(open_error(missing) == "cannot open image '" + missing + "': No such file or directory");
    CHECK(open_error(missing, true) == "cannot open image '" + missing + "': No such file or directory");
    std::string directory = dir.file("");
    CHECK(open_error(directory).find("' is not a regular file") != std::string::npos);
}

TEST_CASE("raw image: other dump formats are named instead of read as RAM")
{
    TempDir dir;
    auto with_magic = [&](const std::string& name, std::string magic) {
        magic.resize(8192, '\0');
        return dir.write(name, magic);
    };
    std::string lime = with_magic("x.lime", "EMiL");
    CHECK(open_error(lime) == "image '" + lime + "' is a LiME dump, which is not supported (use raw or ELF)");
    std::string kdump = with_magic("x.kdump", "KDUMP   ");
    CHECK(open_error(kdump) ==
          "image '" + kdump + "' is a kdump-compressed dump, which is not supported (use raw or ELF)");
    std::string mkdump = with_magic("x.mkd", "makedumpfile");
    CHECK(open_error(mkdump) ==
          "image '" + mkdump + "' is a kdump-compressed dump, which is not supported (use raw or ELF)");
    std::string windows = with_magic("x.dmp", "PAGEDU64");
    CHECK(open_error(windows) ==
          "image '" + windows + "' is a Windows crash dump, which is not supported (use raw or ELF)");
    std::string gz = with_magic("x.gz", "\x1f\x8b");
    CHECK(open_error(gz) == "image '" + gz + "' is compressed; decompress it first");
    std::string xz = with_magic("x.xz", std::string("\xfd"
                                                    "7zXZ\0",
                                                    6));
    CHECK(open_error(xz) == "image '" + xz + "' is compressed; decompress it first");
}

TEST_CASE("raw image: writes refused read-only, persisted when writable")
{
    TempDir dir;
    const std::string data = pattern(0x2000, 0x33);
    std::string path = dir.write("guest.raw", data);
    {
        auto memory = vmi::open_image_file(path, false);
        CHECK_THROWS_WITH_AS(
            write_phys(*memory, 0x10, "x"),
            ("raw image '" + path + "' is open read-only (writing to a dump needs --writable-image)").c_str(),
            vmi::Error);
    }
    CHECK(read_file_bytes(path) == data);
    {
        auto memory = vmi::open_image_file(path, true);
        CHECK(memory->writable());
        CHECK(memory->describe() == "raw image '" + path + "' (1 RAM range, 0 MiB, writable)");
        write_phys(*memory, 0xffe, "boundary");
        CHECK_THROWS_WITH_AS(write_phys(*memory, 0x1ffc, "too long"),
                             "physical range 0x1ffc..0x2004 is not entirely guest RAM", vmi::Error);
        write_phys(*memory, 0x1000, ""); // empty write is a no-op
    }
    std::string expected = data;
    expected.replace(0xffe, 8, "boundary");
    CHECK(read_file_bytes(path) == expected);
}

namespace {

// What `attempt` answers when run by an ordinary user. Root may write to a read-only
// file anyway, so as root it runs in a child process that has given root up (uid and
// gid 65534, nobody), and the answer comes back through a pipe.
std::string as_ordinary_user(const std::function<std::string()>& attempt)
{
    if (::geteuid() != 0) return attempt();
    auto [child, pipe] = fork_with_pipe([&](int out) {
        std::string answer = ::setgroups(0, nullptr) == 0 && ::setgid(65534) == 0 && ::setuid(65534) == 0
                                 ? attempt()
                                 : std::string("could not give up root: ") + std::strerror(errno);
        ssize_t written = ::write(out, answer.data(), answer.size());
        ::_exit(written == static_cast<ssize_t>(answer.size()) ? 0 : 1);
    });
    std::string answer;
    char buffer[512];
    for (ssize_t n; (n = ::read(pipe, buffer, sizeof buffer)) > 0;) answer.append(buffer, static_cast<size_t>(n));
    ::close(pipe);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    return answer;
}

} // namespace

TEST_CASE("raw image: opening writable needs write permission")
{
    TempDir dir;
    std::string path = dir.write("ro.raw", std::string(4096, '\0'));
    ::chmod(path.c_str(), 0444);
    ::chmod(std::filesystem::path(path).parent_path().c_str(), 0755); // nobody may look inside
    CHECK(as_ordinary_user([&] { return open_error(path, true); }) ==
          "cannot open image '" + path + "': Permission denied");
    CHECK(as_ordinary_user([&]() -> std::string {
              try {
                  vmi::open_image_file(path, false);
                  return "opened";
              } catch (const std::exception& e) {
                  return e.what();
              }
          }) == "opened");
}
