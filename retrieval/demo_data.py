"""Tables behind the demo catalog: product types, fictional brands and description sentences.

Every brand here is made up. An attribute spec is either a list of values (one is picked) or a
numeric range `(format, low, high, step)`. Descriptions are built only from these attribute values,
so whatever a description claims is also in the item's attributes.
"""

from __future__ import annotations

from typing import NamedTuple

# brand group -> [(brand, model prefix, tier)]; tier 0 = premium, 1 = mid-range, 2 = budget (sets the price).
BRANDS: dict[str, list[tuple[str, str, int]]] = {
    "tools": [("Voltrix", "VX", 0), ("Torqwell", "TW", 1), ("Hammerline", "HL", 2)],
    "kitchen": [("Copperleaf", "CL", 0), ("Hearthway", "HW", 1), ("Panbury", "PB", 2)],
    "coffee": [("Brewcastle", "BC", 0), ("Crema & Co", "CC", 1), ("Morningfield", "MF", 2)],
    "outdoor": [("Summitcraft", "SC", 0), ("Trailmark", "TM", 1), ("Campwell", "CW", 2)],
    "fitness": [("Stridewell", "SW", 0), ("Pacefield", "PF", 1), ("Kinetra", "KT", 2)],
    "audio": [("Sonavik", "SV", 0), ("Echora", "EC", 1), ("Auralis", "AU", 2)],
    "office": [("Ergonomo", "EG", 0), ("Workhaven", "WH", 1), ("Deskly", "DK", 2)],
    "pets": [("Pawsley", "PW", 0), ("Tailbright", "TB", 1), ("Furbelle", "FB", 2)],
    "garden": [("Greenhollow", "GH", 0), ("Fernwick", "FW", 1), ("Rootwell", "RW", 2)],
    "lighting": [("Lumora", "LM", 0), ("Brightfold", "BF", 1), ("Glowcraft", "GC", 2)],
}

WARRANTY = ["3 years", "2 years", "1 year"]  # by brand tier


class ProductType(NamedTuple):
    name: str           # "Cordless Drill", "Pair of Running Shoes"; a singular noun phrase for sentences
    category: str       # full path, " > " separated
    brands: str         # key into BRANDS
    price: tuple[float, float]  # USD band for the type; brand tier picks where in the band
    title: str          # suffix after "<brand> <model> ", formatted with the attributes
    attrs: dict         # attribute -> list of values, or (format, low, high, step)


_TOOLS = "Tools & Home Improvement > Power Tools"
_KITCHEN = "Home & Kitchen > Kitchen"
_COFFEE = "Home & Kitchen > Coffee"
_CAMP = "Sports & Outdoors > Outdoor & Camping"
_RUN = "Sports & Outdoors > Running & Fitness"
_AUDIO = "Electronics > Audio"
_OFFICE = "Office Products > Home Office"
_PETS = "Animals & Pet Supplies > Pet Supplies"
_GARDEN = "Patio, Lawn & Garden > Gardening"
_LIGHT = "Home & Kitchen > Lighting"

_TOOL_COLORS = ["yellow and black", "red and black", "blue and grey", "green and black", "orange and grey"]
_APPLIANCE_COLORS = ["black", "white", "brushed steel", "sage green", "cream", "matte grey"]
_GEAR_COLORS = ["black", "navy", "olive", "charcoal", "orange", "red", "teal"]
_DIY = ["home repairs", "furniture assembly", "deck building", "weekend DIY", "renovation work"]

TYPES: list[ProductType] = [
    # ---- Power Tools
    ProductType("Cordless Drill", f"{_TOOLS} > Drills", "tools", (49, 229), "{voltage} Cordless Drill Driver", {
        "power_source": ["cordless"], "voltage": ["12V", "18V", "20V"], "battery": ["2.0 Ah", "4.0 Ah", "5.0 Ah"],
        "max_torque": ("{:.0f} Nm", 30, 70, 5), "weight": ("{:.1f} kg", 1.1, 1.9, 0.1), "color": _TOOL_COLORS,
        "use_case": _DIY, "skill_level": ["beginner", "intermediate", "professional"]}),
    ProductType("Corded Hammer Drill", f"{_TOOLS} > Drills", "tools", (39, 149), "{wattage} Corded Hammer Drill", {
        "power_source": ["corded"], "wattage": ["600 W", "710 W", "850 W", "1000 W"], "cord_length": ["2 m", "3 m", "4 m"],
        "weight": ("{:.1f} kg", 1.6, 2.8, 0.1), "color": _TOOL_COLORS,
        "use_case": ["drilling into masonry", "renovation work", "home repairs"],
        "skill_level": ["intermediate", "professional"]}),
    ProductType("Impact Driver", f"{_TOOLS} > Impact Drivers", "tools", (69, 249), "{voltage} Cordless Impact Driver", {
        "power_source": ["cordless"], "voltage": ["12V", "18V", "20V"], "battery": ["2.0 Ah", "4.0 Ah"],
        "max_torque": ("{:.0f} Nm", 120, 220, 10), "weight": ("{:.1f} kg", 0.9, 1.5, 0.1), "color": _TOOL_COLORS,
        "use_case": ["deck building", "driving long screws", "furniture assembly"],
        "skill_level": ["intermediate", "professional"]}),
    ProductType("Circular Saw", f"{_TOOLS} > Saws", "tools", (79, 269), "{blade_diameter} Cordless Circular Saw", {
        "power_source": ["cordless"], "voltage": ["18V", "20V"], "blade_diameter": ["6-1/2 in", "7-1/4 in"],
        "weight": ("{:.1f} kg", 2.6, 3.9, 0.1), "color": _TOOL_COLORS,
        "use_case": ["cutting plywood", "deck building", "framing"], "skill_level": ["intermediate", "professional"]}),
    ProductType("Random Orbital Sander", f"{_TOOLS} > Sanders", "tools", (39, 159), "{pad_diameter} Random Orbital Sander", {
        "power_source": ["corded"], "wattage": ["240 W", "300 W", "350 W"], "pad_diameter": ["5 in", "6 in"],
        "dust_collection": ["yes", "no"], "weight": ("{:.1f} kg", 1.2, 2.0, 0.1), "color": _TOOL_COLORS,
        "use_case": ["furniture refinishing", "woodworking", "weekend DIY"],
        "skill_level": ["beginner", "intermediate"]}),
    # ---- Kitchen
    ProductType("Electric Kettle", f"{_KITCHEN} > Small Appliances > Kettles", "kitchen", (19, 99), "{capacity} Electric Kettle", {
        "capacity": ["1.0 L", "1.5 L", "1.7 L"], "wattage": ["1200 W", "1500 W", "1800 W"],
        "material": ["stainless steel", "borosilicate glass", "BPA-free plastic"], "temperature_control": ["yes", "no"],
        "color": _APPLIANCE_COLORS, "use_case": ["tea", "pour-over coffee", "instant meals"]}),
    ProductType("Blender", f"{_KITCHEN} > Small Appliances > Blenders", "kitchen", (39, 279), "{wattage} Countertop Blender", {
        "wattage": ["600 W", "1000 W", "1400 W", "1800 W"], "capacity": ["1.2 L", "1.5 L", "2.0 L"],
        "speeds": ["3", "5", "10"], "jar_material": ["glass", "Tritan plastic"], "dishwasher_safe": ["yes", "no"],
        "color": _APPLIANCE_COLORS, "use_case": ["smoothies", "soups", "frozen drinks", "nut butters"]}),
    ProductType("Chef's Knife", f"{_KITCHEN} > Cutlery > Chef's Knives", "kitchen", (24, 169), "{blade_length} Chef's Knife", {
        "blade_length": ["6 in", "8 in", "10 in"],
        "blade_material": ["German stainless steel", "Japanese VG-10 steel", "high-carbon steel"],
        "handle_material": ["pakkawood", "olive wood", "POM resin"], "dishwasher_safe": ["no"],
        "weight": ("{:.0f} g", 150, 260, 10), "use_case": ["everyday prep", "slicing meat", "chopping vegetables"],
        "skill_level": ["beginner", "intermediate", "professional"]}),
    ProductType("Frying Pan", f"{_KITCHEN} > Cookware > Frying Pans", "kitchen", (19, 129), "{diameter} Nonstick Frying Pan", {
        "diameter": ["8 in", "10 in", "12 in"], "material": ["hard-anodized aluminum", "stainless steel clad", "cast aluminum"],
        "induction_compatible": ["yes", "no"], "oven_safe": ["yes", "no"], "dishwasher_safe": ["yes", "no"],
        "color": ["black", "grey", "copper"], "use_case": ["eggs and omelettes", "searing", "everyday cooking"]}),
    ProductType("Air Fryer", f"{_KITCHEN} > Small Appliances > Air Fryers", "kitchen", (59, 219), "{capacity} Air Fryer", {
        "capacity": ["3.5 qt", "5.8 qt", "8 qt"], "wattage": ["1400 W", "1700 W"], "presets": ["4", "8", "12"],
        "dishwasher_safe": ["yes", "no"], "color": _APPLIANCE_COLORS,
        "use_case": ["quick weeknight dinners", "crispy fries", "reheating leftovers"]}),
    # ---- Coffee
    ProductType("Espresso Machine", f"{_COFFEE} > Espresso Machines", "coffee", (129, 899), "{pump_pressure} Espresso Machine", {
        "pump_pressure": ["9 bar", "15 bar", "20 bar"], "water_tank": ["1.2 L", "1.8 L", "2.0 L"],
        "milk_frother": ["yes", "no"], "built_in_grinder": ["yes", "no"], "material": ["stainless steel", "plastic"],
        "color": _APPLIANCE_COLORS, "skill_level": ["beginner", "intermediate", "enthusiast"],
        "use_case": ["lattes and cappuccinos", "straight espresso", "morning coffee"]}),
    ProductType("Electric Burr Grinder", f"{_COFFEE} > Coffee Grinders", "coffee", (49, 329), "Electric {burr_type} Burr Coffee Grinder", {
        "burr_type": ["Conical", "Flat"], "grind_settings": ["16", "31", "40", "60"], "wattage": ["150 W", "200 W"],
        "hopper_capacity": ["250 g", "340 g", "450 g"], "power_source": ["corded"], "color": _APPLIANCE_COLORS,
        "use_case": ["espresso", "pour-over", "French press", "drip coffee"]}),
    ProductType("Manual Coffee Grinder", f"{_COFFEE} > Coffee Grinders", "coffee", (25, 149), "Manual {burr_material} Burr Coffee Grinder", {
        "burr_material": ["Steel", "Ceramic"], "capacity": ["25 g", "30 g", "40 g"], "power_source": ["manual"],
        "weight": ("{:.0f} g", 380, 720, 20), "use_case": ["travel", "pour-over", "camping"]}),
    ProductType("Drip Coffee Maker", f"{_COFFEE} > Coffee Makers", "coffee", (29, 199), "{capacity} Drip Coffee Maker", {
        "capacity": ["5 cups", "10 cups", "12 cups"], "programmable": ["yes", "no"], "carafe": ["glass", "thermal"],
        "color": _APPLIANCE_COLORS, "use_case": ["family breakfasts", "office coffee", "morning coffee"]}),
    ProductType("Gooseneck Kettle", f"{_COFFEE} > Pour-Over", "coffee", (29, 159), "{capacity} Electric Gooseneck Kettle", {
        "capacity": ["0.6 L", "0.9 L", "1.0 L"], "temperature_control": ["yes", "no"],
        "power_source": ["corded"], "material": ["stainless steel"], "color": ["matte black", "white", "copper"],
        "use_case": ["pour-over", "tea"]}),
    # ---- Outdoor & Camping
    ProductType("Backpacking Tent", f"{_CAMP} > Tents", "outdoor", (89, 479), "{sleeps}-Person {season} Backpacking Tent", {
        "sleeps": ["1", "2", "3", "4"], "season": ["3-Season", "4-Season"],
        "waterproof": ["yes", "no"], "weight": ("{:.1f} kg", 1.1, 3.6, 0.1), "color": _GEAR_COLORS,
        "use_case": ["backpacking", "car camping", "festival weekends"], "skill_level": ["beginner", "intermediate", "expert"]}),
    ProductType("Sleeping Bag", f"{_CAMP} > Sleeping Bags", "outdoor", (49, 379), "{temperature_rating} {fill} Sleeping Bag", {
        "temperature_rating": ["-7°C", "-1°C", "4°C", "10°C"], "fill": ["Down", "Synthetic"], "shape": ["mummy", "rectangular"],
        "waterproof": ["no"], "weight": ("{:.1f} kg", 0.7, 2.2, 0.1), "color": _GEAR_COLORS,
        "use_case": ["backpacking", "car camping", "summer trips"]}),
    ProductType("Camping Stove", f"{_CAMP} > Camp Kitchen", "outdoor", (29, 159), "{burners} Camping Stove", {
        "burners": ["Single-Burner", "Two-Burner"], "fuel": ["propane", "butane", "isobutane canister"],
        "output": ["7,000 BTU", "10,000 BTU", "20,000 BTU"], "use_case": ["backpacking", "car camping", "picnics"]}),
    ProductType("Headlamp", f"{_CAMP} > Lights & Lanterns", "outdoor", (15, 89), "{brightness} Headlamp", {
        "brightness": ["200 lumens", "350 lumens", "500 lumens", "900 lumens"], "battery_type": ["rechargeable", "AAA"],
        "waterproof": ["yes", "no"], "weight": ("{:.0f} g", 50, 120, 5), "color": _GEAR_COLORS,
        "use_case": ["night hiking", "camping", "trail running"]}),
    ProductType("Hiking Backpack", f"{_CAMP} > Backpacks", "outdoor", (49, 299), "{volume} Hiking Backpack", {
        "volume": ["28 L", "40 L", "55 L", "65 L"], "material": ["ripstop nylon", "recycled polyester"],
        "rain_cover": ["yes", "no"], "weight": ("{:.1f} kg", 0.8, 2.1, 0.1), "color": _GEAR_COLORS,
        "use_case": ["day hikes", "multi-day treks", "travel"]}),
    # ---- Running & Fitness
    ProductType("Pair of Running Shoes", f"{_RUN} > Running Shoes", "fitness", (69, 199), "{gender} {terrain} Running Shoes", {
        "gender": ["Men's", "Women's"], "terrain": ["Road", "Trail"], "cushioning": ["light", "moderate", "maximum"],
        "drop": ["4 mm", "6 mm", "8 mm", "10 mm"], "waterproof": ["yes", "no"], "weight": ("{:.0f} g", 220, 330, 10),
        "color": _GEAR_COLORS, "use_case": ["daily training", "race day", "long runs"]}),
    ProductType("Adjustable Dumbbell", f"{_RUN} > Strength Training", "fitness", (99, 449), "{max_weight} Adjustable Dumbbell", {
        "max_weight": ["25 lb", "52.5 lb", "70 lb", "90 lb"], "material": ["steel plates", "cast iron"],
        "use_case": ["home gym", "small apartments"], "skill_level": ["beginner", "intermediate", "advanced"]}),
    ProductType("Yoga Mat", f"{_RUN} > Yoga", "fitness", (19, 109), "{thickness} Non-Slip Yoga Mat", {
        "thickness": ["4 mm", "6 mm", "8 mm"], "material": ["TPE", "natural rubber", "PVC", "cork"],
        "color": ["purple", "teal", "black", "sand", "blue"], "use_case": ["yoga", "pilates", "stretching"]}),
    ProductType("GPS Running Watch", f"{_RUN} > Fitness Trackers", "fitness", (129, 499), "GPS Running Watch", {
        "battery_life": ["7 days", "14 days", "21 days"], "waterproof": ["yes"], "heart_rate_monitor": ["yes"],
        "display": ["MIP", "AMOLED"], "color": ["black", "white", "slate", "coral"],
        "use_case": ["marathon training", "trail running", "triathlon"]}),
    ProductType("Foam Roller", f"{_RUN} > Recovery", "fitness", (15, 59), "{length} Foam Roller", {
        "length": ["30 cm", "45 cm", "90 cm"], "density": ["soft", "medium", "firm"], "color": _GEAR_COLORS,
        "use_case": ["post-run recovery", "mobility work"]}),
    # ---- Audio
    ProductType("Pair of Wireless Headphones", f"{_AUDIO} > Headphones", "audio", (49, 399), "Wireless Over-Ear Headphones", {
        "noise_cancelling": ["yes", "no"], "battery_life": ["20 hours", "30 hours", "40 hours", "60 hours"],
        "connectivity": ["Bluetooth 5.0", "Bluetooth 5.3"], "weight": ("{:.0f} g", 220, 330, 10),
        "color": ["black", "silver", "navy", "cream"], "use_case": ["commuting", "travel", "working from home"]}),
    ProductType("Pair of Wireless Earbuds", f"{_AUDIO} > Earbuds", "audio", (29, 249), "True Wireless Earbuds", {
        "noise_cancelling": ["yes", "no"], "battery_life": ["5 hours", "6 hours", "8 hours"], "waterproof": ["yes", "no"],
        "connectivity": ["Bluetooth 5.2", "Bluetooth 5.3"], "color": ["black", "white", "sage green"],
        "use_case": ["workouts", "commuting", "calls"]}),
    ProductType("Bluetooth Speaker", f"{_AUDIO} > Speakers", "audio", (29, 279), "{output_power} Portable Bluetooth Speaker", {
        "output_power": ["10 W", "20 W", "40 W", "60 W"], "battery_life": ["12 hours", "20 hours", "24 hours"],
        "waterproof": ["yes", "no"], "weight": ("{:.1f} kg", 0.4, 2.4, 0.1), "color": ["black", "blue", "red", "grey"],
        "use_case": ["beach days", "backyard parties", "camping"]}),
    ProductType("Pair of Bookshelf Speakers", f"{_AUDIO} > Speakers", "audio", (99, 549), "{driver_size} Powered Bookshelf Speakers", {
        "driver_size": ["4 in", "5.25 in", "6.5 in"], "output_power": ["50 W", "80 W", "120 W"],
        "connectivity": ["Bluetooth and optical", "Bluetooth and RCA"], "color": ["walnut", "black", "white"],
        "use_case": ["desktop listening", "living rooms", "turntable setups"]}),
    # ---- Home Office
    ProductType("Standing Desk", f"{_OFFICE} > Desks", "office", (229, 849), "{desktop_width} Electric Standing Desk", {
        "desktop_width": ["48 in", "55 in", "63 in", "72 in"], "motor": ["single", "dual"],
        "max_load": ("{:.0f} kg", 70, 160, 10), "finish": ["walnut", "oak", "white", "black", "bamboo"],
        "use_case": ["working from home", "gaming", "small offices"]}),
    ProductType("Office Chair", f"{_OFFICE} > Chairs", "office", (129, 749), "Ergonomic {material} Office Chair", {
        "material": ["Mesh", "Fabric", "Leather"], "lumbar_support": ["adjustable", "fixed"],
        "armrests": ["3D adjustable", "4D adjustable", "fixed"], "max_load": ("{:.0f} kg", 110, 160, 10),
        "color": ["black", "grey", "white"], "use_case": ["long workdays", "home office", "gaming"]}),
    ProductType("Monitor Arm", f"{_OFFICE} > Monitor Mounts", "office", (39, 219), "{monitors} Monitor Arm", {
        "monitors": ["Single", "Dual"], "max_screen": ["27 in", "32 in", "34 in"],
        "max_weight_per_arm": ("{:.0f} kg", 6, 12, 1), "color": ["black", "silver", "white"],
        "use_case": ["freeing desk space", "dual-screen setups"]}),
    ProductType("Mechanical Keyboard", f"{_OFFICE} > Keyboards", "office", (49, 219), "{layout} Mechanical Keyboard", {
        "layout": ["Full-Size", "Tenkeyless", "75%"], "switches": ["linear red", "tactile brown", "clicky blue"],
        "connectivity": ["wired USB-C", "Bluetooth and wired USB-C"], "backlight": ["white", "RGB"],
        "color": ["black", "white", "grey"], "use_case": ["typing", "programming", "gaming"]}),
    ProductType("Webcam", f"{_OFFICE} > Webcams", "office", (39, 219), "{resolution} Webcam", {
        "resolution": ["1080p", "2K", "4K"], "built_in_microphone": ["yes", "no"], "privacy_shutter": ["yes", "no"],
        "use_case": ["video calls", "streaming", "online classes"]}),
    # ---- Pet Supplies
    ProductType("Dog Bed", f"{_PETS} > Dogs > Beds", "pets", (29, 169), "{size} Orthopedic Dog Bed", {
        "size": ["Small", "Medium", "Large", "XL"], "material": ["memory foam", "polyester fill"],
        "washable_cover": ["yes", "no"], "waterproof": ["yes", "no"], "color": ["grey", "brown", "navy", "beige"],
        "use_case": ["senior dogs", "crate training", "everyday naps"]}),
    ProductType("Dog Leash", f"{_PETS} > Dogs > Leashes", "pets", (12, 59), "{length} Dog Leash", {
        "length": ["4 ft", "6 ft", "10 ft"], "material": ["nylon", "leather", "BioThane"], "reflective": ["yes", "no"],
        "waterproof": ["yes", "no"], "color": ["black", "red", "blue", "orange", "green"],
        "use_case": ["daily walks", "training", "hiking with dogs"]}),
    ProductType("Automatic Cat Feeder", f"{_PETS} > Cats > Feeders", "pets", (49, 189), "{capacity} Automatic Cat Feeder", {
        "capacity": ["3 L", "4 L", "6 L"], "power_source": ["mains with battery backup", "battery"],
        "app_control": ["yes", "no"], "color": ["white", "grey"], "use_case": ["portion control", "weekends away"]}),
    ProductType("Cat Tree", f"{_PETS} > Cats > Furniture", "pets", (29, 219), "{height} Cat Tree", {
        "height": ["80 cm", "120 cm", "160 cm"], "material": ["sisal and plush", "sisal and wood"],
        "color": ["grey", "beige", "dark grey"], "use_case": ["indoor cats", "multi-cat homes", "small apartments"]}),
    ProductType("Pet Water Fountain", f"{_PETS} > Cats > Feeding & Watering", "pets", (19, 69), "{capacity} Pet Water Fountain", {
        "capacity": ["2 L", "2.5 L", "3 L"], "material": ["stainless steel", "BPA-free plastic", "ceramic"],
        "dishwasher_safe": ["yes", "no"], "use_case": ["cats", "small dogs"]}),
    # ---- Gardening
    ProductType("Garden Hose", f"{_GARDEN} > Watering", "garden", (19, 109), "{length} Garden Hose", {
        "length": ["25 ft", "50 ft", "75 ft", "100 ft"], "material": ["rubber", "hybrid polymer", "PVC"],
        "kink_resistant": ["yes", "no"], "color": ["green", "black", "blue"],
        "use_case": ["watering beds", "washing the car", "large lawns"]}),
    ProductType("String Trimmer", f"{_GARDEN} > Lawn Care", "garden", (79, 279), "{voltage} Cordless String Trimmer", {
        "power_source": ["cordless"], "voltage": ["20V", "40V", "56V"], "cutting_width": ["12 in", "13 in", "15 in"],
        "weight": ("{:.1f} kg", 2.2, 4.5, 0.1), "use_case": ["edging lawns", "clearing weeds"]}),
    ProductType("Lawn Mower", f"{_GARDEN} > Lawn Care", "garden", (149, 599), "{cutting_width} Electric Lawn Mower", {
        "power_source": ["cordless", "corded"], "cutting_width": ["14 in", "16 in", "19 in", "21 in"],
        "mulching": ["yes", "no"], "weight": ("{:.1f} kg", 11, 28, 0.5),
        "use_case": ["small lawns", "medium lawns", "suburban yards"]}),
    ProductType("Pair of Pruning Shears", f"{_GARDEN} > Hand Tools", "garden", (12, 69), "{blade_type} Pruning Shears", {
        "blade_type": ["Bypass", "Anvil"], "max_cut": ["16 mm", "20 mm", "25 mm"],
        "blade_material": ["stainless steel", "carbon steel", "titanium-coated steel"],
        "use_case": ["roses", "fruit trees", "shrubs"]}),
    ProductType("Raised Garden Bed", f"{_GARDEN} > Planters", "garden", (49, 279), "{material} Raised Garden Bed", {
        "material": ["Cedar", "Galvanized Steel", "Recycled Plastic"], "size": ["2 x 4 ft", "3 x 6 ft", "4 x 8 ft"],
        "height": ["11 in", "17 in", "24 in"], "use_case": ["vegetables", "herbs", "flowers"]}),
    # ---- Lighting
    ProductType("LED Desk Lamp", f"{_LIGHT} > Desk Lamps", "lighting", (25, 139), "LED Desk Lamp", {
        "brightness": ["400 lumens", "600 lumens", "800 lumens"], "dimmable": ["yes", "no"],
        "color_temperature": ["warm white", "adjustable"], "usb_charging_port": ["yes", "no"],
        "color": ["black", "white", "silver"], "use_case": ["reading", "studying", "working from home"]}),
    ProductType("Floor Lamp", f"{_LIGHT} > Floor Lamps", "lighting", (49, 259), "{style} Floor Lamp", {
        "style": ["Arc", "Tripod", "Torchiere", "Mid-Century"], "height": ["150 cm", "165 cm", "180 cm"],
        "dimmable": ["yes", "no"], "finish": ["brass", "matte black", "walnut and white", "brushed nickel"],
        "use_case": ["living rooms", "reading corners", "bedrooms"]}),
    ProductType("Set of Smart LED Bulbs", f"{_LIGHT} > Light Bulbs", "lighting", (19, 79), "{pack} Smart LED Bulbs", {
        "pack": ["2-Pack", "4-Pack"], "brightness": ["800 lumens", "1100 lumens"],
        "connectivity": ["Wi-Fi", "Zigbee", "Bluetooth"], "dimmable": ["yes"], "light_color": ["tunable white", "full color"],
        "use_case": ["smart homes", "bedrooms", "living rooms"]}),
    ProductType("Set of Solar Path Lights", f"{_LIGHT} > Outdoor Lighting", "lighting", (19, 89), "{pack} Solar Path Lights", {
        "pack": ["6-Pack", "8-Pack", "12-Pack"], "brightness": ["10 lumens", "25 lumens", "50 lumens"],
        "waterproof": ["yes"], "power_source": ["solar"], "finish": ["black", "stainless steel", "bronze"],
        "use_case": ["garden paths", "driveways", "patios"]}),
]

# How a description opens; {type} is the lower-cased type name, {use} the use_case attribute.
OPENERS = [
    "The {brand} {model} is a {type} made for {use}.",
    "Meet the {model}, a {type} from {brand} for {use}.",
    "{brand} built the {model} with {use} in mind.",
    "Looking for a {type} for {use}? The {brand} {model} is one to consider.",
    "This {type} from {brand} is aimed at {use}.",
    "A {brand} {type} for {use}.",
    "For {use}, {brand} offers the {model}.",
]
OPENERS_NO_USE = [
    "The {brand} {model} is a {type}.",
    "Meet the {model}, a {type} from {brand}.",
    "This {type} comes from {brand}.",
]
CLOSERS = [
    "{brand} covers it for {warranty}.",
    "Backed by {brand} for {warranty}.",
    "Warranty: {warranty}.",
    "",
    "",
]

# Sentences stating one attribute. Key "name" takes any value as {v}; key "name=value" is used for that
# value only. An attribute or value without sentences is simply not mentioned: in particular a feature
# an item lacks ("no") is never named in its description, so search never matches on it.
SENTENCES: dict[str, list[str]] = {
    "power_source=cordless": ["Cordless, so you are not tied to an outlet.", "Being cordless, it goes wherever the job is."],
    "power_source=corded": ["It is a corded tool, so it runs as long as the job needs.", "Plugs into the mains for steady power."],
    "power_source=manual": ["Hand-cranked: no cable and no batteries needed."],
    "power_source=solar": ["Solar powered: they charge in daylight and switch on at dusk."],
    "power_source=battery": ["Runs on batteries."],
    "power_source=mains with battery backup": ["Runs from the mains, with a battery backup for power cuts."],
    "power_source=stovetop": ["A stovetop kettle; it works on gas and electric hobs."],
    "voltage": ["Runs on the {brand} {v} battery platform.", "A {v} battery system drives it."],
    "battery": ["Ships with a {v} battery.", "Battery: {v}."],
    "battery_type": ["Powered by {v} batteries."],
    "max_torque": ["Delivers up to {v} of torque.", "Maximum torque is {v}."],
    "weight": ["It weighs {v}.", "Tips the scales at {v}.", "Weight: {v}."],
    "color": ["Finished in {v}.", "Available here in {v}.", "The colour is {v}."],
    "finish": ["The finish is {v}.", "Finished in {v}."],
    "material": ["Made from {lv}.", "Material: {lv}."],
    "wattage": ["A {v} motor powers it.", "Rated at {v}."],
    "capacity": ["Capacity: {v}.", "It holds {v}."],
    "cord_length": ["The cord is {v} long."],
    "blade_diameter": ["Takes a {v} blade."],
    "pad_diameter": ["Uses {v} sanding discs."],
    "dust_collection=yes": ["A dust bag keeps the work surface clear."],
    "temperature_control=yes": ["Variable temperature control lets you heat water exactly as hot as you need."],
    "speeds": ["Offers {v} speed settings."],
    "jar_material": ["The jar is {v}."],
    "dishwasher_safe=yes": ["Dishwasher safe for easy cleanup."],
    "dishwasher_safe=no": ["Hand wash only."],
    "blade_length": ["The blade is {v} long."],
    "blade_material": ["The blade is {v}.", "Blade material: {v}."],
    "handle_material": ["The handle is {v}."],
    "diameter": ["Measures {v} across."],
    "induction_compatible=yes": ["Works on induction hobs as well as gas and electric."],
    "oven_safe=yes": ["Oven safe, so it can go from hob to oven."],
    "presets": ["Comes with {v} cooking presets."],
    "pump_pressure": ["A {v} pump pulls each shot.", "Pump pressure: {v}."],
    "water_tank": ["The water tank holds {v}."],
    "milk_frother=yes": ["A steam wand froths milk for lattes and cappuccinos."],
    "built_in_grinder=yes": ["A built-in grinder grinds beans fresh for every shot."],
    "burr_type": ["It uses {lv} burrs for an even grind."],
    "burr_material": ["The burrs are {lv}."],
    "grind_settings": ["Choose from {v} grind settings."],
    "hopper_capacity": ["The bean hopper holds {v}."],
    "programmable=yes": ["Programmable, so coffee can be ready when you wake up."],
    "carafe": ["Brews into a {v} carafe."],
    "season": ["A {lv} design."],
    "sleeps": ["Sleeps {v}.", "Room for {v} in the inner tent."],
    "waterproof=yes": ["Waterproof construction.", "It is waterproof."],
    "temperature_rating": ["Rated to {v}."],
    "fill": ["{v} fill."],
    "shape": ["A {v} shape."],
    "burners": ["A {lv} design."],
    "output": ["Puts out {v}.", "Heat output: {v}."],
    "fuel": ["Runs on {v} fuel."],
    "brightness": ["Puts out {v}.", "Brightness: {v}."],
    "volume": ["Packs {v} of volume."],
    "rain_cover=yes": ["A rain cover is included."],
    "cushioning": ["Offers {v} cushioning."],
    "drop": ["Heel-to-toe drop is {v}."],
    "terrain": ["Built for {lv} running."],
    "max_weight": ["Adjusts up to {v}."],
    "thickness": ["It is {v} thick."],
    "battery_life": ["Battery life is up to {v}.", "Lasts up to {v} on a charge."],
    "heart_rate_monitor=yes": ["Tracks heart rate from the wrist."],
    "display": ["The screen is {v}.", "Display: {v}."],
    "length": ["Length: {v}.", "It is {v} long."],
    "density": ["Density: {v}."],
    "noise_cancelling=yes": ["Active noise cancelling shuts out the commute.", "Features active noise cancelling."],
    "connectivity": ["Connects over {v}.", "Connectivity: {v}."],
    "output_power": ["Output power is {v}."],
    "driver_size": ["Uses {v} drivers."],
    "desktop_width": ["The desktop is {v} wide."],
    "motor": ["A {v} motor raises and lowers it."],
    "max_load": ["Holds up to {v}.", "Load capacity: {v}."],
    "lumbar_support": ["Lumbar support is {v}."],
    "armrests": ["Armrests: {v}."],
    "max_screen": ["Fits screens up to {v}."],
    "max_weight_per_arm": ["Each arm holds up to {v}."],
    "switches": ["Fitted with {v} switches."],
    "backlight": ["Backlighting: {v}."],
    "resolution": ["Records in {v}.", "Video resolution: {v}."],
    "built_in_microphone=yes": ["Has a built-in microphone."],
    "privacy_shutter=yes": ["A privacy shutter covers the lens when you are off camera."],
    "size": ["Size: {v}."],
    "washable_cover=yes": ["The cover is removable and machine washable."],
    "reflective=yes": ["Reflective stitching keeps you visible at night."],
    "app_control=yes": ["Schedule meals from a phone app."],
    "height": ["It stands {v} tall.", "Height: {v}."],
    "kink_resistant=yes": ["Kink resistant."],
    "cutting_width": ["Cuts a {v} path."],
    "mulching=yes": ["It can mulch clippings back into the lawn."],
    "blade_type": ["{v} blades."],
    "max_cut": ["Cuts branches up to {v} thick."],
    "dimmable=yes": ["Dimmable.", "You can dim it."],
    "color_temperature": ["Light colour: {v}."],
    "usb_charging_port=yes": ["A USB port in the base charges your phone."],
    "style": ["Style: {lv}."],
    "light_color": ["Offers {v} light."],
    "skill_level": ["Skill level: {v}.", "Pitched at {v} users."],
}
