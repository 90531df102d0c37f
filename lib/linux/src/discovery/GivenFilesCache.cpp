#include "discovery/GivenFilesCache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "vmi/base/AtomicFileWrite.hpp"
#include "vmi/base/Fnv1a.hpp"
#include "vmi/symbols/SymbolTable.hpp"

namespace vmi {
namespace {

constexpr std::string_view MAGIC = "vmitools-given-files 1";
constexpr std::uintmax_t MAX_ENTRY_BYTES = 256 << 10;
// An entry holds what the tools look up by name, not whole tables.
constexpr std::size_t MAX_NAMES = 512;
constexpr std::size_t SAMPLE = 64 << 10;

// The file's identity into `hash`: false when it cannot be read.
bool add_file_identity(Fnv1a& hash, const std::string& path)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat status {};
    bool ok = ::fstat(fd, &status) == 0 && S_ISREG(status.st_mode);
    if (ok) {
        hash.add(fmt::format("{}:{}.{}:{}:{}|", status.st_size, status.st_mtim.tv_sec, status.st_mtim.tv_nsec,
                             status.st_dev, status.st_ino));
        std::array<char, SAMPLE> bytes{};
        auto size = static_cast<std::uint64_t>(status.st_size);
        for (std::uint64_t offset : {std::uint64_t{0}, size > SAMPLE ? size - SAMPLE : 0}) {
            ssize_t got = ::pread(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
            if (got < 0) {
                ok = false;
                break;
            }
            hash.add(std::string_view(bytes.data(), static_cast<std::size_t>(got)));
        }
    }
    ::close(fd);
    return ok;
}

std::optional<GivenFilesEntry> parse_entry(std::string_view text, const std::string& path)
{
    if (!text.starts_with(MAGIC) || text.size() <= MAGIC.size() || text[MAGIC.size()] != '\n') return std::nullopt;
    text.remove_prefix(MAGIC.size() + 1);
    GivenFilesEntry entry;
    entry.path = path;
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        if (end == std::string_view::npos) return std::nullopt;
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end + 1);
        if (line == "end") return entry;
        std::size_t a = line.find(' ');
        if (a == std::string_view::npos) return std::nullopt;
        std::string_view kind = line.substr(0, a), rest = line.substr(a + 1);
        if (kind == "symbol") {
            std::optional<CachedSymbol> symbol = parse_cached_symbol(rest);
            if (!symbol || entry.symbols.size() >= MAX_NAMES) return std::nullopt;
            entry.symbols.push_back(std::move(*symbol));
        } else if (kind == "absent") {
            if (rest.empty() || rest.size() > SymbolTable::MAX_NAME_LENGTH || entry.absent.size() >= MAX_NAMES)
                return std::nullopt;
            entry.absent.emplace_back(rest);
        } else if (kind == "layout") {
            entry.layout += std::string(rest) + "\n";
        } else if (kind != "file") { // "file PATH": for people reading the cache
            return std::nullopt;
        }
    }
    return std::nullopt; // no "end": cut short
}

std::string printable(std::string_view text)
{
    std::string shown(text.substr(0, 300));
    for (char& c : shown)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return shown;
}

} // namespace

std::optional<std::string> given_files_key(const std::string& sysmap, const std::string& btf)
{
    if (kernel_build_cache_directory().empty()) return std::nullopt;
    Fnv1a hash;
    hash.add(MAGIC);
    if (!add_file_identity(hash, sysmap)) return std::nullopt;
    hash.add("|btf|");
    if (!btf.empty() && !add_file_identity(hash, btf)) return std::nullopt;
    return fmt::format("{:016x}", hash.value());
}

std::optional<GivenFilesEntry> find_given_files_entry(const std::string& key)
{
    std::string path = fmt::format("{}/{}.files", kernel_build_cache_directory(), key);
    std::error_code error;
    std::uintmax_t size = std::filesystem::file_size(path, error);
    if (error || size > MAX_ENTRY_BYTES) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return parse_entry(text.str(), path);
}

std::optional<std::string> store_given_files_entry(const std::string& key, const GivenFilesEntry& entry,
                                                   const std::string& sysmap, const std::string& btf)
{
    std::string dir = kernel_build_cache_directory();
    if (dir.empty() || entry.symbols.size() > MAX_NAMES || entry.absent.size() > MAX_NAMES) return std::nullopt;
    std::string text = std::string(MAGIC) + "\n";
    text += "file " + printable(sysmap) + "\n";
    if (!btf.empty()) text += "file " + printable(btf) + "\n";
    for (const CachedSymbol& symbol : entry.symbols) text += cached_symbol_line(symbol);
    for (const std::string& name : entry.absent) text += fmt::format("absent {}\n", name);
    text += prefixed_lines("layout", entry.layout);
    text += "end\n";
    std::string path = fmt::format("{}/{}.files", dir, key);
    if (!write_file_atomically(path, text)) return std::nullopt;
    return path;
}

} // namespace vmi
