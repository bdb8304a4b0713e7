"""Vocabulary for synthetic catalog entries: enough distinct words that full-text search has work to do."""

SUBJECTS = (
    "street signs", "traffic lights", "pedestrians", "cyclists", "lane markings", "road surface", "potholes",
    "parking spots", "license plates", "vehicles", "trucks", "buses", "motorcycles", "animals", "construction zones",
    "crosswalks", "tunnels", "bridges", "roundabouts", "intersections", "highway exits", "speed bumps", "curbs",
    "guard rails", "street lamps", "billboards", "storefronts", "faces", "hands", "gestures", "handwriting",
    "invoices", "receipts", "passports", "forms", "tables", "charts", "x-rays", "retina scans", "skin lesions",
    "cells", "tumours", "fractures", "heartbeats", "speech", "accents", "keywords", "music", "bird songs",
    "machine noise", "bearings", "turbines", "solar panels", "power lines", "pipelines", "crops", "weeds",
    "forests", "wildfires", "floods", "glaciers", "clouds", "ships", "containers", "pallets", "parcels",
    "shelves", "products", "barcodes", "defects", "welds", "scratches", "cracks", "rust", "textiles", "garments",
    "shoes", "furniture", "kitchens", "rooms", "floor plans", "documents", "contracts", "emails", "tickets",
    "reviews", "tweets", "questions", "answers", "dialogues", "translations", "code snippets", "logs", "queries",
)
MODALITIES = (
    "camera", "fisheye", "thermal", "infrared", "lidar", "radar", "sonar", "ultrasound", "depth", "stereo",
    "satellite", "aerial", "drone", "dashcam", "microscopy", "ct", "mri", "audio", "video", "text", "tabular",
    "telemetry", "event-camera", "hyperspectral", "multispectral", "panoramic", "scanned", "synthetic",
)
TASKS = (
    "detector", "classifier", "segmenter", "tracker", "ranker", "recogniser", "transcriber", "translator",
    "summariser", "forecaster", "estimator", "localiser", "re-identifier", "captioner", "retriever",
    "anomaly detector", "quality gate", "counter", "depth estimator", "pose estimator", "ocr model",
    "keyword spotter", "speaker verifier", "defect finder", "damage assessor", "route planner",
)
REGIONS = (
    "eu", "us", "uk", "jp", "kr", "cn", "in", "br", "mx", "ca", "au", "nz", "za", "ng", "ke", "de", "fr",
    "es", "it", "nl", "se", "no", "fi", "pl", "cz", "at", "ch", "nordics", "alps", "benelux", "iberia",
    "balkans", "baltics", "sahel", "andes", "pacific", "atlantic", "mediterranean", "arctic", "tropics",
)
CONDITIONS = (
    "night", "dusk", "dawn", "rain", "snow", "fog", "glare", "backlight", "winter", "summer", "autumn",
    "spring", "urban", "rural", "highway", "offroad", "indoor", "outdoor", "crowded", "empty", "occluded",
    "low-light", "high-speed", "motion-blur", "noisy", "clean", "long-tail", "rare", "edge-case", "adversarial",
)
TEAMS = (
    "perception", "mapping", "planning", "safety", "localisation", "fleet", "robotics", "vision", "speech",
    "language", "search", "ads", "payments", "fraud", "risk", "health", "radiology", "pathology", "agritech",
    "energy", "logistics", "warehouse", "retail", "insurance", "claims", "support", "legal", "compliance",
    "manufacturing", "quality", "research", "platform", "infra", "security", "trust", "growth",
)
PRODUCTS = (
    "fleet", "app", "assistant", "scanner", "platform", "pipeline", "robot", "drone", "kiosk", "portal",
    "dashboard", "camera", "car", "truck", "tractor", "inspection rig", "call centre", "checkout", "chatbot",
)
QUALIFIERS = (
    "curated", "relabelled", "deduplicated", "balanced", "weakly labelled", "human verified", "auto-labelled",
    "hard negatives", "golden", "holdout", "benchmark", "pilot", "legacy", "v2 schema", "privacy-filtered",
    "blurred", "anonymised", "consented", "licensed", "open-source", "crowdsourced", "expert-annotated",
)
SENTENCES = (
    "Training the {team} {task} for the {region} {product}.",
    "{modality} recordings of {subject} under {condition} conditions, {qualifier}.",
    "Used to evaluate the {task} before each {product} release in {region}.",
    "Collected by the {team} team to reduce false positives on {subject}.",
    "May be used for research on {subject}; not for {product} production without review.",
    "Covers {condition} and {condition2} scenes with {subject} and {subject2}.",
    "Replaces the {qualifier} set that missed {subject} at {condition}.",
    "Frames sampled every second from {modality} streams; labels follow the {team} guideline.",
)
# Queries a user might type: one word, two words, and prefixes of words the catalog contains.
SEARCH_QUERIES = (
    "lidar", "street", "stree", "signs", "night", "pedestrians", "pedes", "radar", "thermal", "therm",
    "rain", "fog", "snow", "eu", "jp", "detector", "detect", "segmenter", "segm", "tracker", "invoices",
    "receipts", "x-rays", "xray", "tumours", "tumo", "speech", "accents", "bird", "turbines", "turb",
    "wildfires", "wild", "floods", "barcodes", "welds", "rust", "drone", "aerial", "satellite", "sat",
    "fisheye", "fish", "hyperspectral", "hyper", "microscopy", "micro", "ocr", "glare", "dusk",
    "street night", "lidar rain", "radar fog", "thermal pedestrians", "camera signs", "drone crops",
    "satellite floods", "audio keywords", "speech accents", "ct fractures", "mri tumours", "eu highway",
    "jp street", "us trucks", "fleet detector", "mapping lidar", "safety pedes", "retail shel",
    "warehouse pallets", "invoices ocr", "fraud receipts", "radiology x", "pathology cel", "crops weeds",
    "solar pan", "power li", "ships containers", "night cyc", "fog lane", "snow road", "glare traffic",
    "relabelled", "golden", "holdout", "anonymised faces", "consented speech", "licensed music",
    "nonexistentword", "zzzz",
)
