#!/usr/bin/env python3
"""Reference lemmas and synonyms from NLTK's WordNet reader, for tests/test_attack_wordnet.c.

NLTK reads the very same database files as qrobust (Debian's wordnet-base, WordNet 3.0,
/usr/share/wordnet), copied into a temporary nltk_data tree with the `lexnames` file
NLTK also wants (the 45 lexicographer file names of WordNet 3.0). For every word of
the MBPP+ descriptions (and a list of irregular forms) and every part of speech it
writes NLTK's _morphy() result and the synonym candidates the word attack uses:
lemma names of the synsets of each base form, shortest form first (the one
NLTK's WordNetLemmatizer returns), synsets in index order, '_' as ' ', without repeats
(case-insensitive), without the word and its base forms, at most 5.

usage: QROBUST_VENV=/work/venv tools/wordnet_fixture.py [MbppPlus.jsonl.gz]
"""
import gzip, json, os, re, shutil, sys, tempfile

WN_DIR = os.environ.get("QROBUST_WORDNET", "/usr/share/wordnet")
LEXNAMES = ("adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
            "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
            "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
            "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
            "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
            "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
            "adj.ppl").split()
IRREGULAR = "went gone children geese better best mice leaves axes dies ran found sought larger largest " \
            "smallest wrote written given taken feet teeth indices matrices vertices analyses lying hopping " \
            "boxes churches wishes women knives wolves studies stopped making running fastest happier"


def load_wordnet(tmp):
    root = os.path.join(tmp, "corpora", "wordnet")
    os.makedirs(root)
    for f in os.listdir(WN_DIR):
        if os.path.isfile(os.path.join(WN_DIR, f)):
            shutil.copy(os.path.join(WN_DIR, f), root)
    with open(os.path.join(root, "lexnames"), "w") as fp:
        for i, n in enumerate(LEXNAMES):
            fp.write("%02d\t%s\t%d\n" % (i, n, {"adj": 3, "adv": 4, "noun": 1, "verb": 2}[n.split(".")[0]]))
    import nltk
    nltk.data.path.insert(0, tmp)
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    WordNetCorpusReader.map_wn = lambda self, version="3.0": None  # no OMW mapping needed
    from nltk.corpus import wordnet
    assert wordnet.get_version() == "3.0"
    return wordnet


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/MbppPlus.jsonl.gz"
    words = set(IRREGULAR.split())
    with gzip.open(src, "rt") as f:
        for line in f:
            desc = json.loads(line)["prompt"].split("\n")[1]
            words.update(w.lower() for w in re.findall(r"[A-Za-z]+", desc))
    tmp = tempfile.mkdtemp()
    try:
        wn = load_wordnet(tmp)
        rows = []
        for w in sorted(words):
            for pos in "nvar":
                forms = wn._morphy(w, pos)
                syns = []
                # Base forms shortest first (the form WordNetLemmatizer.lemmatize picks
                # comes first), each with its synsets in index (sense-frequency) order.
                synsets = [wn.synset_from_pos_and_offset(pos, off) for f in sorted(forms, key=len)
                           for off in wn._lemma_pos_offset_map[f][pos]]
                for s in synsets:
                    for l in s.lemmas():
                        name = l.name().replace("_", " ")
                        low = name.lower()
                        if low == w or low in forms or any(low == x.lower() for x in syns):
                            continue
                        syns.append(name)
                if forms:
                    rows.append("%s\t%s\t%s\t%s" % (w, pos, ",".join(forms), "|".join(syns[:5])))
    finally:
        shutil.rmtree(tmp)
    out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "attack", "wordnet_nltk.tsv")
    with open(out, "w") as f:
        f.write("# word\tpos(n,v,a,r)\tNLTK _morphy forms\tfirst 5 synonym candidates; tools/wordnet_fixture.py, NLTK %s, WordNet 3.0\n"
                % __import__("nltk").__version__)
        f.write("\n".join(rows) + "\n")
    print("wrote %d rows (%d words) to %s" % (len(rows), len(words), os.path.normpath(out)))


if __name__ == "__main__":
    main()
