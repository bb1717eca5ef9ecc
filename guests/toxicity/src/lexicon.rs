// The lexicon: word lists and phrase rules (syntax in rules.rs). Read twice: by rules.rs for
// the weights and contexts, and by build.rs, which compiles the patterns into sorted static
// tables (src/rules.rs includes the result), so that no call pays for parsing or sorting them.
//
// The lists hold slurs and explicit words because they must be recognised; they are data for
// a filter, not text the project uses.

/// Named word lists, used in patterns as `@name`.
// Only build.rs reads the lists (it expands them into the tables).
#[allow(dead_code)]
const LISTS: &[(&str, &str)] = &[
    ("you", "you|u|ya|yah|youre|ur|yall|yu|thou"),
    (
        "person",
        "you|u|ya|yall|him|her|them|yourself|urself|yourselves|everyone|everybody",
    ),
    (
        "insult",
        "idiot*|moron*|stupid*|dumb|dumber|dumbest|dumbass*|retard*|loser*|scum*|pathetic|worthless|\
         ugly|pig|pigs|bitch*|slut*|whore*|cunt*|asshole*|arsehole*|jackass*|douche*|imbecile*|\
         clown*|freak*|creep*|jerk|jerks|fool|fools|foolish|ignorant|hypocrit*|liar*|coward*|troll|\
         trolls|dickhead*|prick|pricks|twat*|wanker*|bastard*|fag|fags|faggot*|cocksucker*|\
         motherfucker*|fucker*|fuckface*|shithead*|dipshit*|halfwit*|nitwit*|dimwit*|numbskull*|\
         cretin*|degenerate*|parasite*|vermin|subhuman*|disgrace|fraud|maggot*|weasel*|turd*|\
         idoit*|stoopid|dumbf*|dork*|sissy|pussy|scumbag*",
    ),
    (
        "intensifier",
        "a|an|such|so|the|one|just|really|truly|fucking|fuckin|freaking|complete|total|totally|\
         absolute|absolutely|utter|little|big|fat|pathetic|stupid|dumb|worthless|ignorant|lying|\
         sad|sorry|dirty|filthy|ugly|lazy|disgusting|brainless|clueless|old|bloody|damn|goddamn|\
         stinking|miserable|racist|typical",
    ),
    (
        "violence",
        "kill|murder|shoot|stab|strangle|choke|hurt|rape|behead|lynch|torture|punch|slap|smash|\
         bash|bury|poison|execute|drown|end|gut|skin|slaughter|butcher|kidnap|assault",
    ),
    (
        "group",
        "jews|jew|muslims|moslems|islamists|blacks|gays|gay|homosexuals|homos|lesbians|trans|\
         transgenders|transgender|transsexuals|women|females|immigrants|migrants|refugees|mexicans|\
         asians|arabs|africans|chinese|indians|hindus|christians|catholics|latinos|hispanics|\
         gypsies|roma|whites|foreigners|queers|negroes|negros|niggers|niggas|faggots|fags|kikes|\
         spics|chinks|retards|cripples|autistics|minorities|illegals|bisexuals|atheists|sikhs|\
         pakistanis|somalis|syrians|palestinians|israelis|russians|ukrainians|germans|americans|\
         canadians|irish|poles|italians|japanese|koreans|vietnamese|filipinos|haitians|nigerians|\
         zionists|liberals|conservatives|feminists",
    ),
    (
        "people",
        "people|persons|men|guys|folks|kids|children|females|males|girls|boys|immigrants|women",
    ),
    (
        "dehumanizing",
        "animals|animal|vermin|parasites|parasite|subhuman|subhumans|cockroaches|roaches|rats|scum|\
         filth|savages|savage|apes|monkeys|pigs|dogs|insects|leeches|trash|garbage|plague|inferior|\
         evil|terrorists|criminals|rapists|pedophiles|paedophiles|degenerates|degenerate|\
         abominations|abomination|freaks|perverts|perverted|thugs|invaders|infestation|breeders|\
         untermenschen|barbarians|primitive|worthless|useless|disgusting|dirty|filthy|lazy|stupid|\
         dumb|violent|nasty|ugly|smelly|stinky|greedy|sneaky|retarded|idiots|morons|disease",
    ),
    (
        "genocide",
        "kill|killed|exterminate|exterminated|gas|gassed|lynch|lynched|eradicate|eradicated|nuke|\
         nuked|enslave|enslaved|sterilize|sterilized|sterilised|castrate|castrated|genocide|\
         slaughter|slaughtered|massacre|massacred",
    ),
    (
        "expel",
        "deport|deported|hang|hanged|hung|shoot|shot|burn|burned|burnt|wipe|wiped|purge|purged|\
         eliminate|eliminated|execute|executed|removed|remove|ban|banned|die",
    ),
];

/// Every rule. Weights are the evidence one match gives (combined as independent evidence with
/// the model's probability); picked on the tune split and on hand-written cases.
const RULES: &[Rule] = &[
    // --- threats: a speaker announcing violence against someone ------------------------------
    Rule::new(
        "threat_violence",
        Category::Threat,
        0.9,
        Context::Negatable,
        "i|ill|im|id|we|well|imma|ima|gonna ?will|am|are|shall|would|gonna|going|gon|want|wanna|plan|promise|swear ?to|gonna ?fucking|personally|literally|gladly|happily|really|just @violence @person",
    )
    .unless_next(&["an", "a", "up", "out", "at", "off", "with", "know", "some", "back", "over"]),
    Rule::new(
        "threat_hunt_you_down",
        Category::Threat,
        0.75,
        Context::Negatable,
        "find|hunt|track|catch @you ?down and|then @violence @person",
    ),
    Rule::new(
        "threat_know_where_you_live",
        Category::Threat,
        0.85,
        Context::Negatable,
        "i|we know where @you live|lives|sleep|work",
    ),
    Rule::new(
        "threat_you_will_die",
        Category::Threat,
        0.75,
        Context::Negatable,
        "@you ?will|are|re|gonna|going|shall ?to|gonna ?fucking die|bleed|suffer|burn",
    )
    .unless_next(&[
        "from", "with", "of", "less", "more", "calories", "if", "unless", "without", "when", "in",
        "a", "the", "any", "some", "fat", "for", "out", "on",
    ]),
    Rule::new(
        "threat_watch_your_back",
        Category::Threat,
        0.6,
        Context::Negatable,
        "watch your|ur back",
    ),
    Rule::new(
        "threat_one_eye_open",
        Category::Threat,
        0.7,
        Context::Negatable,
        "sleep with one eye open",
    ),
    Rule::new(
        "threat_death_wish",
        Category::Threat,
        0.8,
        Context::Negatable,
        "hope|wish|pray @you|your|ur ~2 die|dies|died|rot|rots|burn|burns|drown|drowns|raped|killed|murdered|shot|hanged|cancer|aids",
    ),
    Rule::new(
        "threat_should_die",
        Category::Threat,
        0.7,
        Context::Negatable,
        "@you|he|she|they|people should|must|need|needs|ought|deserve|deserves ?to ?all ?be die|lynched|hanged|hung|executed|gassed|shot|beheaded|exterminated|tortured|raped",
    ),
    // --- self-harm: first-person intent, or urging someone to it ------------------------------
    Rule::new(
        "self_harm_kill_myself",
        Category::SelfHarm,
        0.85,
        Context::Negatable,
        "kill|killing|hang|hanging|starve|starving|shoot|shooting|drown|drowning|off|offing|poison|poisoning|stab|stabbing|unalive myself",
    ),
    Rule::new(
        "self_harm_hurt_myself",
        Category::SelfHarm,
        0.8,
        Context::Negatable,
        "want|wanna|going|gonna|to|will|keep|started|start|urge|urges|thinking|think|about|need|might ?to hurt|hurting|harm|harming|cut|cutting|burn|burning myself",
    ),
    Rule::new(
        "self_harm_end_my_life",
        Category::SelfHarm,
        0.85,
        Context::Negatable,
        "end|ending my ?own life",
    ),
    Rule::new(
        "self_harm_take_my_own_life",
        Category::SelfHarm,
        0.85,
        Context::Negatable,
        "take|taking my own life",
    ),
    Rule::new(
        "self_harm_want_to_die",
        Category::SelfHarm,
        0.75,
        Context::Negatable,
        "i|im ?just|really|honestly|seriously|only want|wanna|wish|going|gonna|ready|deserve ?to die",
    ),
    Rule::new(
        "self_harm_wish_i_was_dead",
        Category::SelfHarm,
        0.75,
        Context::Negatable,
        "wish i was|were ?already dead",
    ),
    Rule::new(
        "self_harm_suicidal",
        Category::SelfHarm,
        0.75,
        Context::Negatable,
        "im|i|feeling|feel|felt|been ~2 suicidal",
    ),
    Rule::new(
        "self_harm_commit_suicide",
        Category::SelfHarm,
        0.8,
        Context::Negatable,
        "i|im|ill|gonna ~3 commit|comit|attempt|attempting|commiting|committing suicide",
    ),
    Rule::new(
        "self_harm_no_will_to_live",
        Category::SelfHarm,
        0.65,
        Context::Negatable,
        "want ?to live|exist|be anymore|alive",
    ),
    Rule::new(
        "self_harm_no_reason_to_live",
        Category::SelfHarm,
        0.65,
        Context::Negatable,
        "no|nothing reason|point|left to|in live|living",
    ),
    Rule::new(
        "self_harm_better_off_dead",
        Category::SelfHarm,
        0.65,
        Context::Negatable,
        "better|happier off dead",
    ),
    Rule::new(
        "self_harm_better_off_without_me",
        Category::SelfHarm,
        0.55,
        Context::Negatable,
        "better|happier off without me",
    ),
    Rule::new(
        "self_harm_wrists",
        Category::SelfHarm,
        0.85,
        Context::Negatable,
        "slit|slitting|cut|cutting|slash|slashing my|your|ur wrist|wrists|veins",
    ),
    Rule::new(
        "self_harm_urging",
        Category::SelfHarm,
        0.9,
        Context::Negatable,
        "kill|hang|shoot|off|poison|drown|stab|unalive yourself|urself|yourselves|youself|yoself|yourselfs",
    )
    .unless_next(&["in", "up", "out"]),
    Rule::new(
        "self_harm_urging_your_life",
        Category::SelfHarm,
        0.85,
        Context::Negatable,
        "kill|unalive|off|end ur|your self|life",
    ),
    Rule::new(
        "self_harm_kys",
        Category::SelfHarm,
        0.9,
        Context::Always,
        "kys|kysf",
    ),
    Rule::new(
        "self_harm_go_die",
        Category::SelfHarm,
        0.75,
        Context::Negatable,
        "go ?and|fucking|away ?and die|drown",
    ),
    Rule::new(
        "self_harm_go_jump",
        Category::SelfHarm,
        0.7,
        Context::Negatable,
        "go jump off|in|into a|the bridge|cliff|building|roof|lake|river",
    ),
    Rule::new(
        "self_harm_drink_bleach",
        Category::SelfHarm,
        0.8,
        Context::Negatable,
        "go|should|pls|please|plz ?and|just ?go drink|eat|swallow|inject ?some bleach|antifreeze|poison",
    ),
    // --- harassment: insults and abuse addressed to someone -----------------------------------
    Rule::new(
        "insult_you_are",
        Category::Harassment,
        0.75,
        Context::Negatable,
        "@you ?are|r|re|is|were|look|sound|act|acting|seem|must|being ?be|like ?@intensifier ?@intensifier ?@intensifier @insult",
    ),
    Rule::new(
        "insult_what_a",
        Category::Harassment,
        0.6,
        Context::Negatable,
        "what|wat a|an ?@intensifier ?@intensifier @insult",
    ),
    Rule::new(
        "insult_like_you",
        Category::Harassment,
        0.6,
        Context::Negatable,
        "@insult like you|u|yourself",
    ),
    Rule::new(
        "insult_your_mother",
        Category::Harassment,
        0.7,
        Context::Negatable,
        "your|ur|yo mom|mother|mama|momma|mommy|sister|wife ~3 whore*|slut*|fat|ugly|bitch*|cunt*|sucks|suck",
    ),
    Rule::new(
        "insult_fuck_you",
        Category::Harassment,
        0.85,
        Context::Always,
        "fuck|fuk|fck|f*ck|f**k|screw|fuck* you|u|ya|yourself|urself|off|yourselves|yall|them",
    ),
    Rule::new(
        "insult_shut_up",
        Category::Harassment,
        0.5,
        Context::Negatable,
        "shut ?the|your|ur ?fuck|fucking|fuckin|pie|cake up|mouth|trap|hole|face|gob",
    ),
    Rule::new(
        "insult_stfu",
        Category::Harassment,
        0.7,
        Context::Always,
        "stfu|gtfo|foad|fuckoff|fuckyou",
    ),
    Rule::new(
        "insult_eat_shit",
        Category::Harassment,
        0.7,
        Context::Negatable,
        "eat|kiss|lick|suck ?my shit|ass|arse|balls|dick|cock",
    ),
    Rule::new(
        "insult_nobody_likes_you",
        Category::Harassment,
        0.6,
        Context::Negatable,
        "nobody|noone likes|cares|loves|wants ?about @you",
    ),
    Rule::new(
        "insult_no_one_likes_you",
        Category::Harassment,
        0.6,
        Context::Negatable,
        "no one likes|cares|loves|wants ?about @you",
    ),
    Rule::new(
        "insult_everyone_hates_you",
        Category::Harassment,
        0.6,
        Context::Negatable,
        "everyone|everybody hates @you",
    ),
    Rule::new(
        "insult_piece_of_shit",
        Category::Harassment,
        0.75,
        Context::Negatable,
        "piece|waste|sack|pile of shit|crap|space|air|oxygen|scum|filth",
    ),
    // --- sexual content -----------------------------------------------------------------------
    Rule::new(
        "sexual_explicit",
        Category::Sexual,
        0.7,
        Context::Always,
        "porn|porno|porns|pornhub|pornographic|blowjob*|handjob*|rimjob*|cumshot*|creampie*|jizz*|dildo*|deepthroat*|gangbang*|bukkake|hentai|milf|milfs|cunnilingus|fellatio|titfuck*|facefuck*|cocksuck*|masturbat*|jackoff|wank|wanking|horny|tits|titties|boobies|pussies|sexting|nudes|camgirl*|bdsm|orgy|orgies|threesome*|cum|cumming|cummed|p0rn",
    )
    .unless_next(&["laude"]),
    Rule::new(
        "sexual_terms",
        Category::Sexual,
        0.25,
        Context::Always,
        "pussy|cock|cocks|dick|dicks|boobs|erotic|slutty|sexy|orgasm*|shagging|shag",
    ),
    Rule::new(
        "sexual_acts",
        Category::Sexual,
        0.75,
        Context::Negatable,
        "suck|sucking|lick|licking|touch|touching|grab|grabbing|fuck|fucking|show|send ?me|my|your|ur|her|his ?big|fat|little|hard|wet|tight dick|cock|pussy|tits|boobs|balls|ass|nudes|nipples|clit",
    ),
    Rule::new(
        "sexual_your_mother",
        Category::Sexual,
        0.7,
        Context::Negatable,
        "fuck|fucked|fucking|banged|screwed your|ur|yo mom|mother|mama|momma|sister|wife|daughter|girlfriend",
    ),
    Rule::new(
        "sexual_minors",
        Category::Sexual,
        0.9,
        Context::Always,
        "child|kid|kiddie|kiddy|underage|preteen|toddler|baby porn|pornography|nudes",
    ),
    Rule::new(
        "sexual_minors_terms",
        Category::Sexual,
        0.9,
        Context::Always,
        "loli|lolis|lolicon|shotacon|pedo|pedos|paedo|paedos",
    ),
    // --- hate: slurs and dehumanising claims about groups ------------------------------------
    Rule::new(
        "hate_slur",
        Category::Hate,
        0.85,
        Context::Reportable,
        "nigger*|nigs|niggah*|nigguh*|faggot*|fagot*|fag|fags|faggy|kike|kikes|kyke*|spic|spics|spick|spicks|chink|chinks|chinky|gook|gooks|wetback*|beaner*|raghead*|towelhead*|sandnigger*|tranny|trannies|trannys|shemale*|coon|coons|jigaboo*|golliwog*|kaffir*|kaffer*|pickaninny|pickaninnies|zipperhead*|wop|wops|dago|dagos|heeb|heebs|hymie*|yid|yids|paki|pakis|gyppo*|pikey*|darkie*|darky",
    ),
    Rule::new(
        "hate_slur_soft",
        Category::Hate,
        0.6,
        Context::Reportable,
        "nigga|niggas|niggaz|dyke|dykes|homos|queers|spastic|spastics|spaz|redskin|redskins|chinaman|jap|japs|whitey|honky|honkies|gringo|gringos|retard|retards|retarded|tard|tards|libtard*|fucktard*|mongoloid*|negroid*",
    ),
    Rule::new(
        "hate_dehumanizing",
        Category::Hate,
        0.8,
        Context::Reportable,
        "@group ?@people are|r|is|were|remain ~2 @dehumanizing",
    ),
    Rule::new(
        "hate_color_dehumanizing",
        Category::Hate,
        0.8,
        Context::Reportable,
        "black|white|brown|yellow @people are|r|is|were ~2 @dehumanizing",
    ),
    Rule::new(
        "hate_all_group",
        Category::Hate,
        0.8,
        Context::Reportable,
        "all|these|those|fucking|filthy|dirty|stupid|damn|typical @group ?@people ?are|r ~1 @dehumanizing",
    ),
    Rule::new(
        "hate_genocide",
        Category::Hate,
        0.9,
        Context::Reportable,
        "@genocide ?off ?all|every|the|those|these|them|em ?fucking|filthy|dirty|damn @group",
    ),
    Rule::new(
        "hate_expel",
        Category::Hate,
        0.7,
        Context::Reportable,
        "@expel ?off all|every|those|these|them|em ?fucking|filthy|dirty|damn @group",
    ),
    Rule::new(
        "hate_should_be",
        Category::Hate,
        0.85,
        Context::Reportable,
        "@group ?@people should|must|need|needs|ought|deserve|deserves ?to ?all ?be|get @genocide|@expel",
    ),
    Rule::new(
        "hate_death_to",
        Category::Hate,
        0.9,
        Context::Reportable,
        "death to ?all|the @group",
    ),
    Rule::new(
        "hate_i_hate",
        Category::Hate,
        0.75,
        Context::Reportable,
        "i|we hate|despise|loathe|detest ?all|the|those|these|fucking|filthy|dirty|damn|you @group",
    )
    .unless_next(&[
        "food", "cuisine", "music", "movies", "films", "language", "class", "classes",
        "restaurants", "restaurant", "dishes", "team", "teams", "words", "accent", "accents",
    ]),
    Rule::new(
        "hate_go_back_home",
        Category::Hate,
        0.7,
        Context::Negatable,
        "go back to your|ur ?own ?fucking|shithole|shitty|third|world country|countries|land|world",
    ),
    Rule::new(
        "hate_go_back_where",
        Category::Hate,
        0.7,
        Context::Negatable,
        "go back ?to where @you|they came|come|belong",
    ),
    // --- profanity: little evidence alone, a lot with anything else ---------------------------
    Rule::new(
        "profanity_strong",
        Category::Profanity,
        0.45,
        Context::Always,
        "fuck*|fuk|fuks|fukin*|fuking|fck*|f*ck*|f**k*|f***|fu*k*|fu**|fuuck*|fking|motherf*|muthaf*|mothaf*|mofo|cunt*|c*nt|c**t|cocksucker*|n*gg*|n**g*|n***a*|dickbag*|dickwad*|shitbag*|shithead*|shitstain*|twat*|wanker*",
    ),
    Rule::new(
        "profanity",
        Category::Profanity,
        0.3,
        Context::Always,
        "shit|shits|shitty|shite|shitting|bullshit*|sh*t|s**t|bitch*|b*tch*|biatch|asshole*|arsehole*|a**hole*|dickhead*|bastard*|wtf|stfu|bollocks|douche*|jackass*|dumbass*|dipshit*|goddamn*|damnit|pricks|crap|crappy|piss|pissed|pissing|arse|ass|asses|slut*|whore*|skank*|cucks",
    ),
];

