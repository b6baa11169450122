#include "attacks/postag.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

// NLTK's English stopwords (nltk_data, corpora/stopwords/english), in its order.
static const char *const STOPWORDS[] = {
    "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "you're", "you've", "you'll", "you'd",
    "your", "yours", "yourself", "yourselves", "he", "him", "his", "himself", "she", "she's", "her", "hers",
    "herself", "it", "it's", "its", "itself", "they", "them", "their", "theirs", "themselves", "what", "which",
    "who", "whom", "this", "that", "that'll", "these", "those", "am", "is", "are", "was", "were", "be", "been",
    "being", "have", "has", "had", "having", "do", "does", "did", "doing", "a", "an", "the", "and", "but", "if",
    "or", "because", "as", "until", "while", "of", "at", "by", "for", "with", "about", "against", "between",
    "into", "through", "during", "before", "after", "above", "below", "to", "from", "up", "down", "in", "out",
    "on", "off", "over", "under", "again", "further", "then", "once", "here", "there", "when", "where", "why",
    "how", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not",
    "only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will", "just", "don", "don't", "should",
    "should've", "now", "d", "ll", "m", "o", "re", "ve", "y", "ain", "aren", "aren't", "couldn", "couldn't",
    "didn", "didn't", "doesn", "doesn't", "hadn", "hadn't", "hasn", "hasn't", "haven", "haven't", "isn", "isn't",
    "ma", "mightn", "mightn't", "mustn", "mustn't", "needn", "needn't", "shan", "shan't", "shouldn", "shouldn't",
    "wasn", "wasn't", "weren", "weren't", "won", "won't", "wouldn", "wouldn't",
};

// Closed-class words that are not in the stopword list: never content words.
static const char *const FUNCTION_WORDS[] = {
    "within", "without", "upon", "among", "amongst", "across", "along", "around", "behind", "beside", "besides",
    "beyond", "despite", "except", "inside", "outside", "per", "since", "toward", "towards", "unlike", "via",
    "whether", "though", "although", "unless", "whereas", "every", "another", "either", "neither", "would",
    "could", "might", "must", "shall", "may", "cannot", "whose", "whatever", "whichever", "everything",
    "something", "anything", "nothing", "everyone", "someone", "anyone", "upto", "onto", "thru", "e", "g", "ie",
    "eg", "etc", "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million",
    "billion",
};

static const char *const DETERMINERS[] = {"a",    "an",  "the",   "this", "these", "those", "each",  "every",
                                          "its",  "their", "his", "her",  "my",    "your",  "our",   "any",
                                          "some", "no",  "all",   "both", "another", "either", "neither", "such"};
static const char *const PREPOSITIONS[] = {"of",    "in",     "from",   "with",    "for",   "at",    "by",
                                           "on",    "into",   "between", "about",  "against", "through",
                                           "during", "before", "after",  "above",  "below", "under", "over",
                                           "within", "without", "upon", "among",  "across", "along", "around",
                                           "as",    "per",    "than",   "like",    "toward", "towards", "onto"};
static const char *const MODALS[] = {"can",   "could", "will", "would", "shall", "should", "may",
                                     "might", "must",  "do",   "does",  "did",   "cannot"};
static const char *const COPULAS[] = {"is", "are", "was", "were", "be", "been", "being", "am"};
static const char *const RELATIVES[] = {"that", "which", "who"};
static const char *const NUMBERS[] = {"zero", "one",  "two", "three",  "four",     "five",    "six",
                                      "seven", "eight", "nine", "ten",  "hundred", "thousand", "million"};

static int in(const char *w, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(w, list[i])) return 1;
    return 0;
}
#define IN(w, L) in(w, L, sizeof L / sizeof *L)

int qr_is_stopword(const char *lower) { return IN(lower, STOPWORDS); }

char qr_tag_char(QrTag t) { return "XNVAR"[t <= QR_TAG_R ? t : 0]; }
QrWnPos qr_tag_wnpos(QrTag t) { return (QrWnPos)(t - 1); }

typedef struct {
    QrWnCount c[QR_WN_NPOS];
    int function; // X by rule 1
    QrTag dflt;
} Info;

static int has(const Info *f, QrWnPos p) { return f->c[p].synsets > 0; }

static int is_number(const QrTagTok *t) {
    if (!t->is_word) {
        const char *s = t->w;
        while (*s == '(' || *s == '[') s++;
        return *s >= '0' && *s <= '9';
    }
    return IN(t->w, NUMBERS);
}

static int ends_with(const char *w, const char *suf) {
    size_t a = strlen(w), b = strlen(suf);
    return a > b && !strcmp(w + a - b, suf);
}

// A verb participle: ends in -ed/-en/-ing and is an inflection of a verb
// (its verb base form differs from it: "given" -> "give", not "open").
static int participle(const QrWordNet *wn, const char *w, int ing) {
    if (!(ends_with(w, "ed") || ends_with(w, "en") || (ing && ends_with(w, "ing")))) return 0;
    char f[4][QR_WN_MAXWORD];
    int n = qr_wordnet_morphy(wn, w, QR_WN_VERB, f, 4);
    for (int i = 0; i < n; i++)
        if (strcmp(f[i], w)) return 1;
    return 0;
}

// Is token j the start of something nominal (a noun, adjective or number)?
static int nominal(const QrWordNet *wn, const QrTagTok *toks, const Info *info, size_t j) {
    if (is_number(&toks[j])) return 1;
    if (info[j].function) return 0;
    if (info[j].dflt == QR_TAG_N || info[j].dflt == QR_TAG_A) return 1;
    return has(&info[j], QR_WN_NOUN) && !participle(wn, toks[j].w, 1);
}

void qr_pos_tag(const QrWordNet *wn, const QrTagTok *toks, size_t n, QrTag *out) {
    Info info[n ? n : 1];
    for (size_t i = 0; i < n; i++) {
        Info *f = &info[i];
        memset(f, 0, sizeof *f);
        const char *w = toks[i].w;
        if (!toks[i].is_word || IN(w, STOPWORDS) || IN(w, FUNCTION_WORDS)) {
            f->function = 1;
            f->dflt = QR_TAG_X;
            continue;
        }
        int best = -1;
        for (int p = 0; p < QR_WN_NPOS; p++) {
            f->c[p] = qr_wordnet_count(wn, w, (QrWnPos)p);
            if (!f->c[p].synsets) continue;
            if (best < 0 || f->c[p].tagged > f->c[best].tagged ||
                (f->c[p].tagged == f->c[best].tagged && f->c[p].synsets > f->c[best].synsets))
                best = p;
        }
        f->dflt = best < 0 ? QR_TAG_N : (QrTag)(best + 1);
    }
    int in_np = 0; // inside a noun phrase opened by a determiner, preposition, number or verb
    for (size_t i = 0; i < n; i++) {
        const Info *f = &info[i];
        const char *w = toks[i].w;
        if (f->function) {
            out[i] = QR_TAG_X;
            in_np = 0;
            continue;
        }
        const QrTagTok *prev = i > 0 && !toks[i].clause_start ? &toks[i - 1] : NULL;
        const QrTagTok *next = i + 1 < n && !toks[i + 1].clause_start ? &toks[i + 1] : NULL;
        const char *pw = prev && prev->is_word ? prev->w : "";
        const char *nw = next && next->is_word ? next->w : "";
        int hv = has(f, QR_WN_VERB), ha = has(f, QR_WN_ADJ), hn = has(f, QR_WN_NOUN), hr = has(f, QR_WN_ADV);
        int known = hv || ha || hn || hr;
        if (!known) hn = 1; // unknown words are nouns ("tuple", "woodball")
        int next_function = next && info[i + 1].function;
        int next_nominal = next && nominal(wn, toks, info, i + 1);
        // After a closing parenthesis or a comma a participle starts a new phrase.
        int after_break = toks[i].comma_before || (prev && !prev->is_word && strchr(prev->w, ')'));
        QrTag ptag = i > 0 ? out[i - 1] : QR_TAG_X;
        int np_start = prev && !after_break &&
                       (IN(pw, DETERMINERS) || IN(pw, PREPOSITIONS) || is_number(prev) ||
                        (ptag == QR_TAG_V && f->dflt == QR_TAG_V && strcmp(pw, "to")));
        // A participle with no noun reading ends the noun phrase ("letters joined with").
        int np_inside = prev && in_np && !after_break && (ptag == QR_TAG_A || ptag == QR_TAG_N) &&
                        (hn || (ha && !(hv && participle(wn, w, 1))));
        QrTag t = f->dflt;
        if (ends_with(w, "ly") && hr) t = QR_TAG_R;
        else if (!strcmp(w, "least") && !strcmp(pw, "at")) t = QR_TAG_R;
        else if (!known && strchr(w, '-')) t = next_nominal ? QR_TAG_A : QR_TAG_N; // "non-prime numbers"
        else if (!strcmp(nw, "than") && (ha || hr)) t = ha ? QR_TAG_A : QR_TAG_R; // comparatives
        else if (toks[i].clause_start && hv && (!next || next_function) && !IN(nw, COPULAS) && !IN(nw, MODALS))
            t = QR_TAG_V; // imperative
        else if (toks[i].clause_start && (IN(nw, COPULAS) || IN(nw, MODALS)))
            t = hn ? QR_TAG_N : f->dflt;
        else if (hv && prev && (!strcmp(pw, "to") || IN(pw, MODALS) || IN(pw, RELATIVES))) t = QR_TAG_V;
        else if (!strcmp(nw, "to") && ha && !(hv && participle(wn, w, 1))) t = QR_TAG_A; // "equal to"
        else if (hv && next && IN(nw, DETERMINERS) && strcmp(nw, "that") && !toks[i + 1].comma_before)
            t = QR_TAG_V;
        else if (prev && IN(pw, COPULAS)) {
            if (hv && participle(wn, w, 1)) t = QR_TAG_V;
            else if (ha) t = QR_TAG_A;
            else if (hn) t = QR_TAG_N;
        } else if (np_start || np_inside) {
            if (ha && next_nominal) t = QR_TAG_A; // a modifier
            else if (hn) t = QR_TAG_N;            // the head
            else if (ha) t = QR_TAG_A;
        } else if (hv && participle(wn, w, 0) && (after_break || ptag == QR_TAG_N))
            t = QR_TAG_V;
        out[i] = t;
        in_np = (np_start || np_inside) && (t == QR_TAG_A || t == QR_TAG_N);
    }
}

int qr_prose_tag(const QrWordNet *wn, const char *text, const QrProse *p, QrTag *tags) {
    QrTagTok *tt = malloc((p->ntoks ? p->ntoks : 1) * sizeof *tt);
    char *low = malloc(p->ntoks * QR_WN_MAXWORD + 1);
    if (!tt || !low) {
        free(tt);
        free(low);
        return -1;
    }
    for (size_t i = 0; i < p->ntoks; i++) {
        const QrProseTok *k = &p->toks[i];
        char *w = low + i * QR_WN_MAXWORD;
        size_t n = k->end - k->start;
        if (n >= QR_WN_MAXWORD) n = QR_WN_MAXWORD - 1;
        for (size_t j = 0; j < n; j++) w[j] = (char)tolower((unsigned char)text[k->start + j]);
        w[n] = 0;
        tt[i] = (QrTagTok){w, (uint8_t)!k->protect, k->clause_start, k->comma_before};
    }
    for (size_t s = 0; s < p->ntoks;) {
        size_t e = s;
        while (e < p->ntoks && p->toks[e].block == p->toks[s].block) e++;
        qr_pos_tag(wn, tt + s, e - s, tags + s);
        s = e;
    }
    free(tt);
    free(low);
    return 0;
}
