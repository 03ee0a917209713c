"""Fixed vocabularies of the demo CRM: categories and their words, industries, enums, names."""

from __future__ import annotations

# Each category has its own words, disjoint from every other category's, so that TF-IDF over
# titles and descriptions can tell the categories apart. The order puts every industry's
# favourite category (below) among the first eight, the default ``n_categories``.
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "software": ("licence", "subscription", "analytics", "dashboard", "app", "platform",
                 "integration", "suite", "plugin", "editor"),
    "hardware": ("laptop", "monitor", "keyboard", "server", "processor", "dock", "tablet",
                 "drive", "memory", "workstation"),
    "security": ("camera", "alarm", "encryption", "badge", "lock", "surveillance", "antivirus",
                 "identity", "firewall", "sensor"),
    "training": ("course", "workshop", "certification", "coaching", "webinar", "curriculum",
                 "seminar", "mentoring", "bootcamp", "exam"),
    "marketing": ("campaign", "banner", "seo", "branding", "ads", "flyer", "influencer",
                  "billboard", "promotion", "mailing"),
    "catering": ("coffee", "snacks", "lunch", "beverages", "fruit", "buffet", "breakfast", "tea",
                 "pastries", "juice"),
    "travel": ("flights", "hotel", "luggage", "itinerary", "booking", "lounge", "rail", "visa",
               "shuttle", "airport"),
    "cloud": ("hosting", "backup", "compute", "container", "database", "serverless",
              "migration", "uptime", "cluster", "cdn"),
    "office": ("paper", "pens", "binder", "stapler", "notebook", "envelopes", "folders",
               "labels", "clips", "markers"),
    "furniture": ("desk", "chair", "ergonomic", "cabinet", "shelf", "table", "lamp", "standing",
                  "sofa", "bookcase"),
    "networking": ("router", "switch", "wifi", "modem", "vpn", "bandwidth", "ethernet",
                   "antenna", "repeater", "cabling"),
    "printing": ("printer", "ink", "scanner", "copier", "plotter", "cartridge", "laminator",
                 "poster", "toner", "brochure"),
}

# Industry -> index of its favourite category (modulo ``n_categories``).
INDUSTRIES: dict[str, int] = {
    "technology": 0,  # software
    "manufacturing": 1,  # hardware
    "finance": 2,  # security
    "education": 3,  # training
    "retail": 4,  # marketing
    "hospitality": 5,  # catering
    "logistics": 6,  # travel
    "healthcare": 7,  # cloud
}
REGIONS = ("north", "south", "east", "west", "central")
LOYALTY_TIERS = ("bronze", "silver", "gold")
LOYALTY_SHARES = (0.5, 0.32, 0.18)
CONTRACTS = ("month-to-month", "one-year", "two-year")
CONTRACT_SHARES = (0.45, 0.3, 0.25)
CONSENTS = ("granted", "denied", "unknown")

BRANDS = ("acme", "globex", "initech", "umbrella", "hooli", "vandelay", "wonka", "soylent")
ITEM_TIERS = ("basic", "standard", "premium")
ITEM_TIER_PRICE = (0.7, 1.0, 1.8)
ADJECTIVES = ("compact", "pro", "smart", "classic", "ultra", "essential", "advanced", "eco",
              "flex", "prime")
GENERIC_WORDS = ("quality", "reliable", "team", "business", "daily", "fast", "simple",
                 "support", "value", "modern", "service", "package")

CHANNELS = ("web", "email", "store", "phone")
TICKET_TOPICS = ("billing", "delivery", "technical", "account")

# Notes: interest phrases name preferred categories; complaint phrases grow with the hidden
# dissatisfaction that also drives churn and service tickets.
NOTE_OPENERS = ("Met at trade fair.", "Referred by a partner.", "Long-standing account.",
                "Came through the website.", "Call scheduled each quarter.")
COMPLAINTS = ("Complained about slow delivery.", "Unhappy with invoice errors.",
              "Frustrated by support wait times.", "Mentioned a competitor offer.")

FIRST_NAMES = ("Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines",
               "Jonas", "Kira", "Liam", "Maya", "Noah", "Olga", "Pablo", "Rosa", "Sven")
LAST_NAMES = ("Adler", "Brooks", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen",
              "Ito", "Jansen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov")


def make_ids(prefix: str, n: int) -> list[str]:
    """External ids ``prefix-0001`` .. ``prefix-n``, zero-padded to sort in creation order."""
    width = max(4, len(str(n)))
    return [f"{prefix}-{i:0{width}d}" for i in range(1, n + 1)]
