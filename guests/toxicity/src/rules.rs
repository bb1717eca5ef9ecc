//! The lexicon and phrase rules that name *what kind* of toxicity a text carries (the learned
//! model only says how toxic it is): threats, self-harm, sexual content, hate, harassment and
//! profanity.
//!
//! Rules match the normalised tokens of [`crate::model::tokenize`] (lowercase, apostrophes
//! dropped, look-alike digits folded: "you're" is `youre`, "sh1t" is `shit`). A pattern is a
//! sequence of slots separated by spaces:
//!
//! - `a|b|c`: one token, any of the alternatives; `kill*` matches every token starting with
//!   `kill`; `@insult` stands for a named word list ([`LISTS`]);
//! - `?slot`: the slot may be skipped;
//! - `~N`: up to N tokens of anything but a negation ("you are *not* an idiot" is no insult).
//!
//! Rules that describe an act (threats, insults, hate claims) do not fire when a negation
//! closely precedes them ("I would never hurt you"), and hate rules count for little when the
//! words are reported rather than used: quoted, or after "the word", "called me", "saying"...
//! Nothing is matched on bare topic words ("suicide", "kill", "sex"): medical, self-help and
//! technical text ("kill the process") mention them all the time.

use std::collections::HashMap;

use crate::model::Token;

/// The kinds of toxicity the rules name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Harassment,
    Hate,
    Profanity,
    SelfHarm,
    Sexual,
    Threat,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Harassment,
        Category::Hate,
        Category::Profanity,
        Category::SelfHarm,
        Category::Sexual,
        Category::Threat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Harassment => "harassment",
            Category::Hate => "hate",
            Category::Profanity => "profanity",
            Category::SelfHarm => "self_harm",
            Category::Sexual => "sexual",
            Category::Threat => "threat",
        }
    }
}

/// What a rule does when a negation or a reporting verb comes just before its match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// Words are words: profanity and explicit terms count wherever they are.
    Always,
    /// An act or a claim: a negation right before it cancels it.
    Negatable,
    /// Hate speech: cancelled by a negation, worth little when quoted or reported.
    Reportable,
}

struct Rule {
    id: &'static str,
    category: Category,
    weight: f64,
    context: Context,
    pattern: &'static str,
    /// Tokens that, right after a match, show another sense ("shoot you *an* email").
    unless_next: &'static [&'static str],
}

impl Rule {
    const fn new(
        id: &'static str,
        category: Category,
        weight: f64,
        context: Context,
        pattern: &'static str,
    ) -> Self {
        Self {
            id,
            category,
            weight,
            context,
            pattern,
            unless_next: &[],
        }
    }

    const fn unless_next(mut self, words: &'static [&'static str]) -> Self {
        self.unless_next = words;
        self
    }
}

/// Named word lists, used in patterns as `@name`.
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
        "profanity",
        Category::Profanity,
        0.35,
        Context::Always,
        "fuck*|fuk|fuking|fck*|f*ck*|f**k*|fuuck*|fking|motherf*|mofo|shit|shits|shitty|shite|shithead*|shitstain*|bullshit*|sh*t|bitch*|b*tch*|biatch|cunt*|c*nt|asshole*|arsehole*|a**hole*|dickhead*|dickwad*|bastard*|wtf|stfu|twat*|wanker*|bollocks|douche*|jackass*|dumbass*|dipshit*|goddamn*|damnit|pricks|cocksucker*|crap|crappy|piss|pissed|pissing|arse|ass|asses|slut*|whore*|skank*",
    ),
];

/// Negations that cancel a following act ("I would never hurt you").
const NEGATIONS: &[&str] = &[
    "not", "never", "no", "dont", "doesnt", "didnt", "wont", "wouldnt", "cant", "cannot",
    "couldnt", "shouldnt", "isnt", "arent", "wasnt", "werent", "aint", "nor", "hardly", "nobody",
    "stop", "against", "without", "if", "unless", "whether",
];

/// Words that introduce reported or condemned speech rather than the speaker's own.
const REPORTING: &[&str] = &[
    "word", "words", "term", "terms", "slur", "slurs", "called", "calling", "call", "calls", "say",
    "saying", "said", "says", "use", "using", "used", "spell", "spelled", "myth", "myths",
    "stereotype", "stereotypes", "claim", "claims", "claiming", "claimed", "believe", "believes",
    "think", "thinks", "false", "wrong", "racist", "racism", "bigot", "bigots", "bigoted",
    "offensive", "hateful", "homophobic", "sexist", "means", "meaning", "definition", "defined",
    "like", "quote", "quoted", "idea", "notion", "assumption", "misconception", "prejudice",
];

/// How far back a negation or reporting word is looked for.
const LOOKBEHIND: usize = 3;
/// A reported hate term keeps this share of its weight.
const REPORTED_FACTOR: f64 = 0.25;

/// One rule that matched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub rule: &'static str,
    pub category: Category,
    pub weight: f64,
}

/// The rules, compiled for matching: each rule's first slot is looked up through an index of
/// its alternatives, so a text costs per token, not per token and rule.
pub struct Rules {
    compiled: Vec<Compiled>,
    exact: HashMap<&'static str, Vec<usize>>,
    prefixes: Vec<(&'static str, usize)>,
}

struct Compiled {
    rule: &'static Rule,
    slots: Vec<Slot>,
}

#[derive(Debug)]
enum Slot {
    Words { alternatives: Vec<Alternative>, optional: bool },
    Gap(usize),
}

#[derive(Debug, Clone, Copy)]
enum Alternative {
    Exact(&'static str),
    Prefix(&'static str),
}

impl Alternative {
    fn matches(self, token: &str) -> bool {
        match self {
            Alternative::Exact(word) => token == word,
            Alternative::Prefix(prefix) => token.starts_with(prefix),
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self::new()
    }
}

impl Rules {
    pub fn new() -> Self {
        let compiled: Vec<Compiled> = RULES
            .iter()
            .map(|rule| Compiled {
                rule,
                slots: rule.pattern.split_whitespace().map(parse_slot).collect(),
            })
            .collect();
        let mut exact: HashMap<&'static str, Vec<usize>> = HashMap::new();
        let mut prefixes = Vec::new();
        for (index, rule) in compiled.iter().enumerate() {
            // Patterns start with a mandatory word slot (checked by a test).
            if let Some(Slot::Words { alternatives, .. }) = rule.slots.first() {
                for alternative in alternatives {
                    match *alternative {
                        Alternative::Exact(word) => exact.entry(word).or_default().push(index),
                        Alternative::Prefix(prefix) => prefixes.push((prefix, index)),
                    }
                }
            }
        }
        Self {
            compiled,
            exact,
            prefixes,
        }
    }

    /// Every rule that matches somewhere in `tokens`, at most once per rule, with its weight
    /// after the context checks (zero-weight hits are left out).
    pub fn scan(&self, tokens: &[Token]) -> Vec<Hit> {
        let mut best: Vec<Option<f64>> = vec![None; self.compiled.len()];
        let mut candidates: Vec<usize> = Vec::new();
        for start in 0..tokens.len() {
            let word = tokens[start].as_str();
            candidates.clear();
            if let Some(rules) = self.exact.get(word) {
                candidates.extend_from_slice(rules);
            }
            candidates.extend(
                self.prefixes
                    .iter()
                    .filter(|(prefix, _)| word.starts_with(prefix))
                    .map(|&(_, index)| index),
            );
            for &index in &candidates {
                let compiled = &self.compiled[index];
                if best[index].is_some_and(|w| w >= compiled.rule.weight) {
                    continue;
                }
                let Some(end) = match_end(&compiled.slots[1..], tokens, start + 1) else {
                    continue;
                };
                if tokens
                    .get(end)
                    .is_some_and(|next| compiled.rule.unless_next.contains(&next.as_str()))
                {
                    continue;
                }
                let weight = compiled.rule.weight * context_factor(compiled.rule.context, tokens, start);
                if weight > 0.0 && best[index].is_none_or(|w| weight > w) {
                    best[index] = Some(weight);
                }
            }
        }
        self.compiled
            .iter()
            .zip(best)
            .filter_map(|(compiled, weight)| {
                weight.map(|weight| Hit {
                    rule: compiled.rule.id,
                    category: compiled.rule.category,
                    weight,
                })
            })
            .collect()
    }
}

fn parse_slot(text: &'static str) -> Slot {
    if let Some(n) = text.strip_prefix('~') {
        return Slot::Gap(n.parse().unwrap_or(1));
    }
    let (optional, text) = match text.strip_prefix('?') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut alternatives = Vec::new();
    for alternative in text.split('|') {
        if let Some(name) = alternative.strip_prefix('@') {
            let list = LISTS
                .iter()
                .find(|(list, _)| *list == name)
                .map_or("", |(_, words)| words);
            alternatives.extend(list.split('|').map(|w| parse_alternative(w.trim())));
        } else {
            alternatives.push(parse_alternative(alternative));
        }
    }
    Slot::Words {
        alternatives,
        optional,
    }
}

fn parse_alternative(word: &'static str) -> Alternative {
    // A trailing `*` means "starts with"; a `*` inside ("f*ck") is a literal masked letter.
    match word.strip_suffix('*') {
        Some(prefix) if !prefix.is_empty() => Alternative::Prefix(prefix),
        _ => Alternative::Exact(word),
    }
}

/// Where a match of `slots` starting at `at` ends (backtracking over optional slots and gaps;
/// the first way found wins).
fn match_end(slots: &[Slot], tokens: &[Token], at: usize) -> Option<usize> {
    let Some((slot, rest)) = slots.split_first() else {
        return Some(at);
    };
    match slot {
        Slot::Words {
            alternatives,
            optional,
        } => {
            let here = tokens
                .get(at)
                .is_some_and(|token| alternatives.iter().any(|a| a.matches(token.as_str())));
            let taken = if here {
                match_end(rest, tokens, at + 1)
            } else {
                None
            };
            taken.or_else(|| {
                if *optional {
                    match_end(rest, tokens, at)
                } else {
                    None
                }
            })
        }
        Slot::Gap(max) => {
            for skip in 0..=*max {
                if let Some(end) = match_end(rest, tokens, at + skip) {
                    return Some(end);
                }
                match tokens.get(at + skip) {
                    Some(token) if !NEGATIONS.contains(&token.as_str()) => {}
                    _ => return None,
                }
            }
            None
        }
    }
}

fn context_factor(context: Context, tokens: &[Token], start: usize) -> f64 {
    let before = &tokens[start.saturating_sub(LOOKBEHIND)..start];
    let negated = before.iter().any(|t| NEGATIONS.contains(&t.as_str()));
    match context {
        Context::Always => 1.0,
        Context::Negatable if negated => 0.0,
        Context::Negatable => 1.0,
        Context::Reportable if negated => 0.0,
        Context::Reportable => {
            let reported = tokens[start].quoted
                || tokens[start.saturating_sub(LOOKBEHIND + 1)..start]
                    .iter()
                    .any(|t| REPORTING.contains(&t.as_str()));
            if reported { REPORTED_FACTOR } else { 1.0 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tokenize;

    fn hits(text: &str) -> Vec<(&'static str, Category)> {
        Rules::new()
            .scan(&tokenize(text, usize::MAX))
            .into_iter()
            .filter(|hit| hit.weight >= 0.5)
            .map(|hit| (hit.rule, hit.category))
            .collect()
    }

    fn categories(text: &str) -> Vec<Category> {
        let mut out: Vec<Category> = hits(text).into_iter().map(|(_, c)| c).collect();
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn every_pattern_starts_with_a_word_and_lists_exist() {
        for rule in RULES {
            let first = rule.pattern.split_whitespace().next().unwrap_or("");
            assert!(
                !first.starts_with('?') && !first.starts_with('~'),
                "{}: the first slot must be a mandatory word slot",
                rule.id
            );
            for name in rule
                .pattern
                .split(|c: char| c.is_whitespace() || c == '|' || c == '?')
                .filter_map(|w| w.strip_prefix('@'))
            {
                assert!(
                    LISTS.iter().any(|(list, _)| *list == name),
                    "{}: no list @{name}",
                    rule.id
                );
            }
            assert!((0.0..=1.0).contains(&rule.weight), "{}", rule.id);
        }
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len(), "rule ids are unique");
    }

    #[test]
    fn threats() {
        for text in [
            "I will kill you",
            "I'm going to fucking murder you and your family",
            "We know where you live.",
            "i hope you die in a fire",
            "You will die tonight",
            "imma find you and hurt you",
        ] {
            assert!(categories(text).contains(&Category::Threat), "{text}");
        }
    }

    #[test]
    fn self_harm() {
        for text in [
            "I want to kill myself",
            "i just want to die",
            "I'm going to end my life tonight",
            "I've been feeling suicidal lately",
            "go kill yourself",
            "kys loser",
        ] {
            assert!(categories(text).contains(&Category::SelfHarm), "{text}");
        }
    }

    #[test]
    fn harassment_sexual_and_hate() {
        assert!(categories("you are a fucking idiot").contains(&Category::Harassment));
        assert!(categories("You're such a pathetic loser").contains(&Category::Harassment));
        assert!(categories("shut the fuck up").contains(&Category::Harassment));
        assert!(categories("send me your nudes").contains(&Category::Sexual));
        assert!(categories("watch free porn here").contains(&Category::Sexual));
        assert!(categories("immigrants are vermin").contains(&Category::Hate));
        assert!(categories("all muslims should be deported").contains(&Category::Hate));
        assert!(categories("gas the jews").contains(&Category::Hate));
        assert!(categories("what a fucking faggot").contains(&Category::Hate));
    }

    #[test]
    fn benign_uses_of_violent_or_medical_words() {
        for text in [
            "How do I kill the process listening on port 8080?",
            "kill -9 1234 and then restart the server",
            "The new album is killing it on the charts",
            "What are the warning signs of suicide, and how can I help a friend?",
            "Call the suicide prevention hotline if you are struggling.",
            "Is it normal to have a vaginal discharge after sex?",
            "Shoot me an email when you are ready.",
            "You are not an idiot for asking this.",
            "I would never hurt you.",
            "Don't kill yourself over this deadline, it can wait.",
            "He graduated summa cum laude",
            "The flame retardant coating on the cable",
            "Cut the onion, then drop it in the pan.",
            "Black people and white people both voted for him.",
        ] {
            let found = categories(text);
            let serious: Vec<&Category> = found
                .iter()
                .filter(|c| **c != Category::Profanity && **c != Category::Sexual)
                .collect();
            assert!(serious.is_empty(), "{text}: {found:?}");
        }
        assert!(categories("He graduated summa cum laude").len() <= 1);
    }

    #[test]
    fn reported_slurs_weigh_little() {
        let rules = Rules::new();
        let used = rules.scan(&tokenize("shut up you faggot", usize::MAX));
        let reported = rules.scan(&tokenize(
            "He called me a \"faggot\" and that is unacceptable",
            usize::MAX,
        ));
        let weight = |hits: &[Hit]| {
            hits.iter()
                .filter(|h| h.category == Category::Hate)
                .map(|h| h.weight)
                .fold(0.0, f64::max)
        };
        assert!(weight(&used) >= 0.8);
        assert!(weight(&reported) < 0.3, "{reported:?}");
    }
}
