#include "vmi/memory/DumpFile.hpp"

#include <cstring>

#include "dump/ElfCoreImage.hpp"
#include "dump/RawImage.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

bool starts_with(std::span<const std::uint8_t> bytes, std::string_view magic)
{
    return bytes.size() >= magic.size() && std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
}

} // namespace

std::unique_ptr<MemorySource> open_image_file(const std::string& path, bool writable)
{
    auto file = std::make_unique<MappedFile>(path, writable);
    auto bytes = file->bytes();
    if (starts_with(bytes, "\x7f"
                           "ELF"))
        return open_elf_core(std::move(file));
    // Formats we recognise but do not read: say so instead of treating them as raw RAM.
    if (starts_with(bytes, "EMiL")) fail("image '{}' is a LiME dump, which is not supported (use raw or ELF)", path);
    if (starts_with(bytes, "KDUMP   ") || starts_with(bytes, "makedumpfile"))
        fail("image '{}' is a kdump-compressed dump, which is not supported (use raw or ELF)", path);
    if (starts_with(bytes, "PAGEDUMP") || starts_with(bytes, "PAGEDU64"))
        fail("image '{}' is a Windows crash dump, which is not supported (use raw or ELF)", path);
    if (starts_with(bytes, "\x1f\x8b") || starts_with(bytes, "\xfd"
                                                             "7zXZ"))
        fail("image '{}' is compressed; decompress it first", path);
    return open_raw_image(std::move(file));
}

} // namespace vmi
