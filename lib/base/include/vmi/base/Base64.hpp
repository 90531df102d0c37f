#pragma once
// Base64 (RFC 4648, the standard alphabet with '=' padding), as QEMU's guest
// agent sends a command's captured output.
#include <optional>
#include <string>
#include <string_view>

namespace vmi {

// The bytes `text` encodes, or nullopt when it is not base64: a character
// outside the alphabet, a length that is not a multiple of 4, or padding
// anywhere but at the end. Whitespace is not accepted either.
std::optional<std::string> decode_base64(std::string_view text);

} // namespace vmi
