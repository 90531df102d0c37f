#include "vmi/types/KernelImage.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "decompress/BoundedOutput.hpp"
#include "decompress/StreamDecompressors.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

struct CompressionMagic {
    KernelCompression compression;
    std::string_view magic;
};

// The magic numbers the kernel's own build recognises (scripts/Makefile.lib,
// arch/x86/boot/compressed/Makefile).
constexpr std::array<CompressionMagic, 7> MAGICS{{
    {KernelCompression::gzip, std::string_view("\x1f\x8b", 2)},
    {KernelCompression::bzip2, std::string_view("BZh", 3)},
    {KernelCompression::lzma, std::string_view("\x5d\x00\x00", 3)},
    {KernelCompression::xz, std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6)},
    {KernelCompression::lzo, std::string_view("\x89\x4c\x5a\x4f\x00\x0d\x0a\x1a\x0a", 9)},
    {KernelCompression::lz4, std::string_view("\x02\x21\x4c\x18", 4)},
    {KernelCompression::zstd, std::string_view("\x28\xb5\x2f\xfd", 4)},
}};

// x86 boot protocol (Documentation/arch/x86/boot.rst), offsets into the file.
constexpr std::size_t SETUP_SECTS = 0x1f1;
constexpr std::size_t HEADER_MAGIC = 0x202; // "HdrS"
constexpr std::size_t PROTOCOL_VERSION = 0x206;
constexpr std::size_t PAYLOAD_OFFSET = 0x248;
constexpr std::size_t PAYLOAD_LENGTH = 0x24c;
constexpr std::uint16_t FIRST_VERSION_WITH_PAYLOAD = 0x208;
constexpr std::size_t SECTOR = 512;

std::uint32_t le32(std::span<const std::uint8_t> bytes, std::size_t offset)
{
    std::uint32_t value = 0;
    for (int i = 3; i >= 0; --i) value = value << 8 | bytes[offset + i];
    return value;
}

// Say what was expected: the usual mistake is passing some other file of the
// kernel package (System.map, config, initrd) as --btf.
[[noreturn]] void fail_unknown(const std::string& origin)
{
    fail("'{}': not a bzImage and no known kernel compression found "
         "(expected a vmlinuz, a vmlinux ELF or a raw BTF file)",
         origin);
}

// Kernels compress 4-10x. The build appends the uncompressed size to the
// payload (scripts/Makefile.lib, size_append): when it is plausible for this
// input, the output buffer starts at exactly the right size.
std::size_t output_size_hint(std::span<const std::uint8_t> payload, std::size_t max_size)
{
    std::size_t guess = std::min(payload.size(), max_size / 8) * 8;
    if (payload.size() < 8) return guess;
    std::uint64_t appended = le32(payload, payload.size() - 4);
    bool plausible = appended >= payload.size() && appended / 64 <= payload.size() && appended <= max_size;
    return plausible ? static_cast<std::size_t>(appended) : guess;
}

} // namespace

std::string_view compression_name(KernelCompression compression)
{
    switch (compression) {
    case KernelCompression::gzip: return "gzip";
    case KernelCompression::bzip2: return "bzip2";
    case KernelCompression::lzma: return "lzma";
    case KernelCompression::xz: return "xz";
    case KernelCompression::lzo: return "lzo";
    case KernelCompression::lz4: return "lz4";
    case KernelCompression::zstd: return "zstd";
    }
    return "unknown";
}

std::optional<KernelCompression> detect_compression(std::span<const std::uint8_t> bytes)
{
    for (const CompressionMagic& m : MAGICS) {
        if (bytes.size() >= m.magic.size() && std::memcmp(bytes.data(), m.magic.data(), m.magic.size()) == 0)
            return m.compression;
    }
    return std::nullopt;
}

std::optional<std::span<const std::uint8_t>> bzimage_payload(std::span<const std::uint8_t> bytes,
                                                             const std::string& origin)
{
    if (bytes.size() < PAYLOAD_LENGTH + 4 || std::memcmp(bytes.data() + HEADER_MAGIC, "HdrS", 4) != 0)
        return std::nullopt;
    auto version = static_cast<std::uint16_t>(bytes[PROTOCOL_VERSION] | bytes[PROTOCOL_VERSION + 1] << 8);
    if (version < FIRST_VERSION_WITH_PAYLOAD)
        fail("'{}': bzImage boot protocol {}.{:02} is too old to say where its payload is (2.08 needed)", origin,
             version >> 8, version & 0xff);
    // 0 setup sectors means 4, for the oldest boot loaders' sake.
    std::uint64_t setup_sects = bytes[SETUP_SECTS] ? bytes[SETUP_SECTS] : 4;
    std::uint64_t start = (setup_sects + 1) * SECTOR + le32(bytes, PAYLOAD_OFFSET);
    std::uint64_t length = le32(bytes, PAYLOAD_LENGTH);
    if (length == 0 || start > bytes.size() || length > bytes.size() - start)
        fail("'{}': bzImage payload (offset {}, {} bytes) lies outside the {}-byte file: truncated?", origin, start,
             length, bytes.size());
    return bytes.subspan(start, length);
}

std::string KernelImage::describe() const
{
    if (from_bzimage) return fmt::format("bzImage, {}-compressed", compression_name(compression));
    return fmt::format("{}-compressed file", compression_name(compression));
}

std::vector<std::uint8_t> decompress_stream(KernelCompression compression, std::span<const std::uint8_t> input,
                                            const std::string& origin, std::size_t max_size)
{
    decompress::BoundedOutput out(compression_name(compression), origin, max_size, output_size_hint(input, max_size));
    switch (compression) {
    case KernelCompression::gzip: decompress::gunzip(input, out); break;
    case KernelCompression::bzip2: decompress::bunzip2(input, out); break;
    case KernelCompression::lzma: decompress::unlzma(input, out); break;
    case KernelCompression::xz: decompress::unxz(input, out); break;
    case KernelCompression::lzo: decompress::unlzo(input, out); break;
    case KernelCompression::lz4: decompress::unlz4(input, out); break;
    case KernelCompression::zstd: decompress::unzstd(input, out); break;
    }
    return out.take();
}

KernelImage decompress_kernel_image(std::span<const std::uint8_t> bytes, const std::string& origin,
                                    std::size_t max_size)
{
    KernelImage image;
    std::span<const std::uint8_t> stream = bytes;
    if (auto payload = bzimage_payload(bytes, origin)) {
        image.from_bzimage = true;
        stream = *payload;
    }
    std::optional<KernelCompression> compression = detect_compression(stream);
    if (!compression) {
        if (image.from_bzimage) fail("'{}': bzImage payload uses no compression known to Linux", origin);
        fail_unknown(origin);
    }
    image.compression = *compression;
    image.vmlinux = decompress_stream(*compression, stream, origin, max_size);
    if (image.vmlinux.size() < 4 || std::memcmp(image.vmlinux.data(),
                                                "\x7f"
                                                "ELF",
                                                4) != 0)
        fail("'{}': {} does not hold a vmlinux ELF file", origin, image.describe());
    return image;
}

} // namespace vmi
