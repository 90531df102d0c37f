#include "qemu/NovaInstance.hpp"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// A metadata element bigger than this is not Nova's.
constexpr std::size_t MAX_METADATA = 1 << 20;
constexpr std::size_t MAX_FIELD = 1024;

// The text of the first <PREFIX:TAG ...>TEXT</PREFIX:TAG> (any namespace
// prefix), XML's five entities decoded; nullopt when there is none.
std::optional<std::string> element_text(std::string_view xml, std::string_view tag)
{
    for (std::size_t at = xml.find('<'); at != std::string_view::npos; at = xml.find('<', at + 1)) {
        std::size_t end_of_name = xml.find_first_of(" \t\r\n/>", at + 1);
        if (end_of_name == std::string_view::npos) return std::nullopt;
        std::string_view name = xml.substr(at + 1, end_of_name - at - 1);
        std::size_t colon = name.find(':');
        if ((colon == std::string_view::npos ? name : name.substr(colon + 1)) != tag) continue;
        std::size_t open_end = xml.find('>', end_of_name);
        if (open_end == std::string_view::npos || xml[open_end - 1] == '/') return std::nullopt;
        std::size_t close = xml.find("</", open_end);
        if (close == std::string_view::npos || close - open_end - 1 > MAX_FIELD) return std::nullopt;
        std::string_view raw = xml.substr(open_end + 1, close - open_end - 1);
        std::string text;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] != '&') {
                text += raw[i];
                continue;
            }
            static constexpr std::pair<std::string_view, char> ENTITIES[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
            bool decoded = false;
            for (const auto& [entity, character] : ENTITIES) {
                if (raw.substr(i, entity.size()) == entity) {
                    text += character;
                    i += entity.size() - 1;
                    decoded = true;
                    break;
                }
            }
            if (!decoded) text += '&';
        }
        return text;
    }
    return std::nullopt;
}

std::optional<NovaInstance> instance_of(const LibvirtApi& api, virDomainPtr domain)
{
    char* xml = api.virDomainGetMetadata(domain, VIR_DOMAIN_METADATA_ELEMENT, NOVA_NAMESPACE, 0);
    if (!xml) return std::nullopt;
    std::string text(xml, ::strnlen(xml, MAX_METADATA));
    std::free(xml); // NOLINT(cppcoreguidelines-no-malloc): libvirt allocates it with malloc
    return parse_nova_metadata(text);
}

bool looks_like_uuid(const std::string& text)
{
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (text[i] == '-')) return false;
        if (!dash && !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return true;
}

} // namespace

std::optional<NovaInstance> parse_nova_metadata(std::string_view xml)
{
    std::optional<std::string> name = element_text(xml, "name");
    if (!name || name->empty()) return std::nullopt;
    return NovaInstance{*name, element_text(xml, "project").value_or("")};
}

virDomainPtr find_nova_domain(const LibvirtApi& api, virConnectPtr connection, const std::string& name)
{
    // Nova's instance uuid is the domain's.
    if (looks_like_uuid(name)) {
        if (virDomainPtr domain = api.virDomainLookupByUUIDString(connection, name.c_str())) return domain;
    }
    virDomainPtr* domains = nullptr;
    int count = api.virConnectListAllDomains(connection, &domains, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    std::vector<virDomainPtr> found;
    for (int i = 0; i < count; ++i) {
        std::optional<NovaInstance> instance = instance_of(api, domains[i]);
        if (instance && instance->name == name) found.push_back(domains[i]);
        else api.virDomainFree(domains[i]);
    }
    std::free(domains); // NOLINT(cppcoreguidelines-no-malloc): libvirt allocates the array with malloc
    if (found.size() > 1) {
        std::string names;
        for (virDomainPtr domain : found) {
            const char* domain_name = api.virDomainGetName(domain);
            names += (names.empty() ? "" : ", ") + std::string(domain_name ? domain_name : "?");
            api.virDomainFree(domain);
        }
        fail("{} running Nova instances are named '{}' (libvirt domains {}): name one by its uuid or domain",
             found.size(), name, names);
    }
    return found.empty() ? nullptr : found.front();
}

} // namespace vmi
