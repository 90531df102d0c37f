#include "vmi/config/ConfigFile.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "vmi/base/Error.hpp"
#include "vmi/base/NumberParser.hpp"
#include "vmi/config/ConfigKeys.hpp"

namespace vmi {

bool ConfigEntry::has(std::string_view key) const { return values.find(key) != values.end(); }

std::optional<std::uint64_t> ConfigEntry::number(std::string_view key) const
{
    auto it = values.find(key);
    if (it == values.end()) return std::nullopt;
    if (auto* n = std::get_if<std::uint64_t>(&it->second.value)) return *n;
    return std::nullopt;
}

std::optional<std::string> ConfigEntry::text(std::string_view key) const
{
    auto it = values.find(key);
    if (it == values.end()) return std::nullopt;
    if (auto* s = std::get_if<std::string>(&it->second.value)) return *s;
    return std::nullopt;
}

const ConfigEntry* ConfigFile::find(std::string_view name) const
{
    auto it = entries.find(name);
    return it == entries.end() ? nullptr : &it->second;
}

namespace {

struct Token {
    enum Kind { Word, Number, String, OpenBrace, CloseBrace, Equals, Semicolon, End } kind = End;
    std::string text;
    int line = 1;
    int column = 1;
};

std::string describe(const Token& token)
{
    switch (token.kind) {
    case Token::Word: return fmt::format("'{}'", token.text);
    case Token::Number: return fmt::format("number {}", token.text);
    case Token::String: return fmt::format("string \"{}\"", token.text);
    case Token::OpenBrace: return "'{'";
    case Token::CloseBrace: return "'}'";
    case Token::Equals: return "'='";
    case Token::Semicolon: return "';'";
    case Token::End: return "end of file";
    }
    return "?";
}

bool is_word_char(char c)
{
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':' ||
           c == '@' || c == '+' || c == '~';
}

class Lexer {
public:
    Lexer(std::string_view text, const std::string& path) : text_(text), path_(path) {}

    Token next()
    {
        skip_blanks_and_comments();
        Token token;
        token.line = line_;
        token.column = column_;
        if (at_ >= text_.size()) return token;
        char c = text_[at_];
        switch (c) {
        case '{':
            advance();
            token.kind = Token::OpenBrace;
            return token;
        case '}':
            advance();
            token.kind = Token::CloseBrace;
            return token;
        case '=':
            advance();
            token.kind = Token::Equals;
            return token;
        case ';':
            advance();
            token.kind = Token::Semicolon;
            return token;
        case '"': return string_token(token);
        default: break;
        }
        if (!is_word_char(c))
            fail("{}:{}:{}: unexpected character '{}'", path_, token.line, token.column, printable_char(c));
        while (at_ < text_.size() && is_word_char(text_[at_])) token.text.push_back(advance());
        token.kind = std::isdigit(static_cast<unsigned char>(token.text[0])) ? Token::Number : Token::Word;
        return token;
    }

private:
    static std::string printable_char(char c)
    {
        return std::isprint(static_cast<unsigned char>(c)) ? std::string(1, c)
                                                           : fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }

    char advance()
    {
        char c = text_[at_++];
        if (c == '\n') {
            ++line_;
            column_ = 1;
        } else {
            ++column_;
        }
        return c;
    }

    void skip_blanks_and_comments()
    {
        while (at_ < text_.size()) {
            char c = text_[at_];
            if (c == '#') {
                while (at_ < text_.size() && text_[at_] != '\n') advance();
            } else if (std::isspace(static_cast<unsigned char>(c))) {
                advance();
            } else {
                break;
            }
        }
    }

    Token string_token(Token token)
    {
        advance(); // opening quote
        token.kind = Token::String;
        while (true) {
            if (at_ >= text_.size() || text_[at_] == '\n')
                fail("{}:{}:{}: unterminated string (missing closing '\"')", path_, token.line, token.column);
            char c = advance();
            if (c == '"') return token;
            if (c == '\\' && at_ < text_.size() && (text_[at_] == '"' || text_[at_] == '\\')) c = advance();
            token.text.push_back(c);
        }
    }

    std::string_view text_;
    const std::string& path_;
    std::size_t at_ = 0;
    int line_ = 1;
    int column_ = 1;
};

class Parser {
public:
    Parser(std::string_view text, ConfigFile& file, const ConfigKeySet& keys)
        : lexer_(text, file.path), file_(file), keys_(keys)
    {
        token_ = lexer_.next();
    }

    void parse_file()
    {
        while (token_.kind != Token::End) parse_entry();
    }

private:
    [[noreturn]] void expected(std::string_view what)
    {
        fail("{}:{}:{}: expected {}, found {}", file_.path, token_.line, token_.column, what, describe(token_));
    }

    Token take()
    {
        Token taken = std::move(token_);
        token_ = lexer_.next();
        return taken;
    }

    void parse_entry()
    {
        if (token_.kind != Token::Word && token_.kind != Token::String && token_.kind != Token::Number)
            expected("a VM name to start an entry");
        Token name = take();
        ConfigEntry entry;
        entry.name = name.text;
        entry.file = file_.path;
        entry.line = name.line;
        if (token_.kind != Token::OpenBrace) expected(fmt::format("'{{' after VM name '{}'", name.text));
        take();
        while (token_.kind != Token::CloseBrace) {
            if (token_.kind == Token::End)
                fail("{}:{}:{}: unexpected end of file: entry '{}' opened at line {} is missing its '}}'", file_.path,
                     token_.line, token_.column, entry.name, name.line);
            parse_assignment(entry);
        }
        take();
        if (file_.entries.contains(entry.name))
            file_.warnings.push_back(fmt::format("{}:{}:{}: entry '{}' defined again; the last definition wins",
                                                 file_.path, name.line, name.column, entry.name));
        file_.entries.insert_or_assign(entry.name, std::move(entry));
    }

    void parse_assignment(ConfigEntry& entry)
    {
        if (token_.kind != Token::Word) expected(fmt::format("a key or '}}' in entry '{}'", entry.name));
        Token key = take();
        if (token_.kind != Token::Equals) expected(fmt::format("'=' after key '{}'", key.text));
        take();
        if (token_.kind != Token::Word && token_.kind != Token::Number && token_.kind != Token::String)
            expected(fmt::format("a value for '{}'", key.text));
        Token value = take();
        if (token_.kind != Token::Semicolon) expected(fmt::format("';' after value of '{}'", key.text));
        take();

        ConfigValue stored;
        stored.line = value.line;
        stored.column = value.column;
        const ConfigKey* known = keys_.find(key.text);
        if (!known)
            file_.warnings.push_back(fmt::format("{}:{}:{}: unknown key '{}' in entry '{}' (ignored)", file_.path,
                                                 key.line, key.column, key.text, entry.name));
        if (value.kind == Token::Number && known && known->kind == ConfigValueKind::Text) {
            // The lexer cannot know the key: a bare word that starts with a digit
            // (`pagemode = 4level;`, `sysmap = 6.1.0/System.map;`) is text for a
            // text key, as in LibVMI's lexer.
            stored.value = value.text;
        } else if (value.kind == Token::Number) {
            ParsedNumber number = try_parse_u64(value.text);
            if (!number.value)
                fail("{}:{}:{}: bad number '{}' for '{}': {}", file_.path, value.line, value.column, value.text,
                     key.text, number.problem);
            stored.value = *number.value;
        } else {
            if (known && known->kind == ConfigValueKind::Number)
                fail("{}:{}:{}: expected a number for '{}', found {}", file_.path, value.line, value.column, key.text,
                     describe(value));
            stored.value = value.text;
        }
        if (known && known->check) {
            if (std::optional<std::string> problem = known->check(value.text))
                fail("{}:{}:{}: {}", file_.path, value.line, value.column, *problem);
        }
        if (!known) return;
        if (entry.has(key.text))
            file_.warnings.push_back(fmt::format("{}:{}:{}: key '{}' set again in entry '{}'; the last value wins",
                                                 file_.path, key.line, key.column, key.text, entry.name));
        entry.values.insert_or_assign(key.text, std::move(stored));
    }

    Lexer lexer_;
    ConfigFile& file_;
    const ConfigKeySet& keys_;
    Token token_;
};

} // namespace

ConfigFile ConfigFile::parse(std::string_view text, const std::string& path, const ConfigKeySet& keys)
{
    ConfigFile file;
    file.path = path;
    Parser(text, file, keys).parse_file();
    return file;
}

ConfigFile ConfigFile::load(const std::string& path, const ConfigKeySet& keys)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open config file '{}': {}", path, std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return parse(text.str(), path, keys);
}

} // namespace vmi
