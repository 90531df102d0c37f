#pragma once
// A compressed Linux kernel (vmlinuz / bzImage, or a bare vmlinux.xz and the
// like) turned back into the vmlinux ELF it was built from, so its .BTF
// section can be read. Distributions pick different compressions (and change
// them between releases), so every compression the kernel's own boot
// decompressor supports is accepted.
//
// The file comes from the user and may have been copied out of a guest: it is
// untrusted. Sizes are bounds-checked and the output is capped.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vmi {

enum class KernelCompression { gzip, bzip2, lzma, xz, lzo, lz4, zstd };

// "gzip", "bzip2", "lzma", "xz", "lzo", "lz4", "zstd".
std::string_view compression_name(KernelCompression compression);

// The compression whose magic number `bytes` starts with.
std::optional<KernelCompression> detect_compression(std::span<const std::uint8_t> bytes);

// The compressed payload of an x86 bzImage (boot protocol 2.08 or later:
// payload_offset/payload_length); nullopt when `bytes` has no "HdrS" setup
// header. Throws when the header is there but its payload lies outside the file.
std::optional<std::span<const std::uint8_t>> bzimage_payload(std::span<const std::uint8_t> bytes,
                                                             const std::string& origin);

// More than any real vmlinux (Debian's is ~65 MiB) and small enough that a
// decompression bomb cannot take the host down.
inline constexpr std::size_t MAX_KERNEL_IMAGE_SIZE = std::size_t{1} << 30;

struct KernelImage {
    std::vector<std::uint8_t> vmlinux; // the uncompressed ELF
    bool from_bzimage = false;         // false: the file was a bare compressed stream
    KernelCompression compression = KernelCompression::gzip;

    // "bzImage, xz-compressed" or "xz-compressed file".
    std::string describe() const;
};

// Looks for a bzImage header first, then for a bare compressed stream at the
// start of the file. Decompresses one stream (the kernel appends the size as
// trailing bytes, which are ignored) and checks that the result is an ELF file.
// `origin` names the file in errors: "'vmlinuz-x': xz data corrupt".
KernelImage decompress_kernel_image(std::span<const std::uint8_t> bytes, const std::string& origin,
                                    std::size_t max_size = MAX_KERNEL_IMAGE_SIZE);

// One compressed stream, whatever it holds (no ELF check).
std::vector<std::uint8_t> decompress_stream(KernelCompression compression, std::span<const std::uint8_t> input,
                                            const std::string& origin, std::size_t max_size = MAX_KERNEL_IMAGE_SIZE);

} // namespace vmi
