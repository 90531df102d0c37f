#include "vmi/symbols/SymbolExpression.hpp"

#include "vmi/base/Error.hpp"
#include "vmi/base/NumberParser.hpp"

namespace vmi {

SymbolExpression SymbolExpression::parse(std::string_view text)
{
    SymbolExpression expression;
    std::size_t plus = text.find('+');
    expression.name = std::string(text.substr(0, plus));
    if (expression.name.empty()) fail("--ksym: missing symbol name in '{}'", text);
    if (plus != std::string_view::npos) expression.offset = parse_u64(text.substr(plus + 1), "--ksym offset");
    return expression;
}

} // namespace vmi
