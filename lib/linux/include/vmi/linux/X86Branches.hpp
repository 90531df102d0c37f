#pragma once
// The branches in a piece of x86 machine code, found by decoding it from its
// first byte to its last (a linear sweep with Zydis), never by searching for
// opcode bytes: a byte E8 inside another instruction's immediate is not a call.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace vmi {

struct X86Branch {
    enum class Kind {
        call,             // call rel32
        jump,             // jmp rel8/rel32
        conditional_jump, // jcc, jcxz, loop: a conditional tail call leaves the code too
        indirect_call,    // call through a register or memory
        indirect_jump,    // jmp through a register or memory
    };
    Kind kind = Kind::call;
    std::uint64_t at = 0;     // the instruction's address
    std::uint8_t length = 0;  // its length in bytes
    std::uint64_t target = 0; // where a direct branch lands (0 for an indirect one)

    bool direct() const { return kind == Kind::call || kind == Kind::jump || kind == Kind::conditional_jump; }
};

struct X86Code {
    std::vector<X86Branch> branches;
    // Where the sweep met bytes that are no instruction (it stops there); the
    // code is then not what a compiler wrote, or the sweep started off an
    // instruction boundary.
    std::optional<std::uint64_t> undecodable_at;
    std::size_t instructions = 0;
};

// Decodes `code`, which sits at virtual address `address`, as 64-bit code
// (`bits` 64) or 32-bit protected-mode code (`bits` 32). Throws vmi::Error
// for any other `bits`.
X86Code decode_branches(std::span<const std::uint8_t> code, std::uint64_t address, unsigned bits);

} // namespace vmi
