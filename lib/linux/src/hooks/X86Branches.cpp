#include "vmi/linux/X86Branches.hpp"

#include <Zydis/Zydis.h>

#include "vmi/base/Error.hpp"

namespace vmi {

X86Code decode_branches(std::span<const std::uint8_t> code, std::uint64_t address, unsigned bits)
{
    if (bits != 64 && bits != 32) fail("x86 code is 32- or 64-bit, not {}-bit", bits);
    ZydisDecoder decoder;
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&decoder, bits == 64 ? ZYDIS_MACHINE_MODE_LONG_64 : ZYDIS_MACHINE_MODE_LEGACY_32,
                                       bits == 64 ? ZYDIS_STACK_WIDTH_64 : ZYDIS_STACK_WIDTH_32)))
        fail("the x86 decoder (Zydis) does not start");
    X86Code out;
    std::size_t offset = 0;
    ZydisDecodedInstruction instruction;
    ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
    while (offset < code.size()) {
        std::uint64_t at = address + offset;
        if (!ZYAN_SUCCESS(
                ZydisDecoderDecodeFull(&decoder, code.data() + offset, code.size() - offset, &instruction, operands))) {
            out.undecodable_at = at;
            break;
        }
        ++out.instructions;
        offset += instruction.length;
        ZydisInstructionCategory category = instruction.meta.category;
        if (category != ZYDIS_CATEGORY_CALL && category != ZYDIS_CATEGORY_UNCOND_BR &&
            category != ZYDIS_CATEGORY_COND_BR)
            continue;
        const ZydisDecodedOperand& operand = operands[0];
        X86Branch branch;
        branch.at = at;
        branch.length = instruction.length;
        if (operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && operand.imm.is_relative) {
            ZyanU64 target = 0;
            if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&instruction, &operand, at, &target))) continue;
            branch.target = bits == 32 ? target & 0xffffffffU : target;
            branch.kind = category == ZYDIS_CATEGORY_CALL        ? X86Branch::Kind::call
                          : category == ZYDIS_CATEGORY_UNCOND_BR ? X86Branch::Kind::jump
                                                                 : X86Branch::Kind::conditional_jump;
        } else if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER || operand.type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (category == ZYDIS_CATEGORY_COND_BR) continue;
            branch.kind =
                category == ZYDIS_CATEGORY_CALL ? X86Branch::Kind::indirect_call : X86Branch::Kind::indirect_jump;
        } else {
            continue; // a far branch with an immediate selector: not kernel code's
        }
        out.branches.push_back(branch);
    }
    return out;
}

} // namespace vmi
