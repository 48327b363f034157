"""The feature path against scikit-learn's own vectorizers, built independently."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from classifier import features
from classifier.features import WORD_TOKENS, CommentVectorizer, Projection

TRAINING = [
    "you are an idiot and a liar", "lovely photos of the harbour", "the council is a joke",
    "café prices went up again", "привет всем друзья", "an idiot wrote this idiot piece",
    "a b c d e", "go away troll go away", "thanks for the lovely piece",
    "日本語 の テキスト です", "x", "naïve idea but a lovely one",
]
TEXTS = [
    "you are an idiot idiot idiot", "lovely lovely harbour photos", "", "x",
    "привет idiot café", "日本語 troll", "never seen words zzqx", "a b", "the council joke",
    "go away troll and thanks for the piece " * 3,
    "ŋŋŋ ok ŋŋŋŋ", "ok ŋŋŋŋŋ",  # words without a known character n-gram, last in the batch
]


def reference(vectorizer: CommentVectorizer, texts: list[str]) -> np.ndarray:
    """Word part: binary n-grams times idf, l2; char part: each distinct word's char_wb
    counts times idf, summed, over sqrt of the sum of idf squared over every n-gram
    occurrence of every word."""
    words = CountVectorizer(lowercase=False, token_pattern=WORD_TOKENS, binary=True,
                            ngram_range=vectorizer.word_ngram_range,
                            vocabulary=vectorizer.word_vocabulary_)
    chars = CountVectorizer(lowercase=False, analyzer="char_wb",
                            ngram_range=vectorizer.char_ngram_range,
                            vocabulary=vectorizer.char_vocabulary_)
    rows = []
    for text in texts:
        word_part = words.transform([text]).toarray()[0] * vectorizer.word_idf_
        norm = np.linalg.norm(word_part)
        word_part = word_part / norm if norm else word_part
        distinct = list(dict.fromkeys(text.split()))
        char_part = np.zeros(len(vectorizer.char_vocabulary_))
        if distinct:
            counts = chars.transform(distinct).toarray()
            char_part = (counts * vectorizer.char_idf_).sum(axis=0)
            norm = np.sqrt((counts * vectorizer.char_idf_.astype(np.float64) ** 2).sum())
            char_part = char_part / norm if norm else char_part
        rows.append(np.concatenate([word_part, char_part]))
    return np.vstack(rows)


@pytest.fixture(scope="module")
def vectorizer():
    return CommentVectorizer(min_df=1).fit(TRAINING)


def test_transform_equals_the_definition_built_from_scikit_learn(vectorizer):
    np.testing.assert_allclose(vectorizer.transform(TEXTS).toarray(),
                               reference(vectorizer, TEXTS), rtol=1e-5, atol=1e-6)


def test_scoring_projection_equals_the_feature_matrix_product(vectorizer):
    weights = np.random.default_rng(0).normal(size=(3, vectorizer.n_features_out_))
    projection = Projection(vectorizer, weights)
    expected = reference(vectorizer, TEXTS) @ weights.T
    np.testing.assert_allclose(projection(TEXTS), expected, rtol=1e-5, atol=1e-5)
    # Again, now that every word has a row, and one text at a time.
    np.testing.assert_allclose(projection(TEXTS), expected, rtol=1e-5, atol=1e-5)
    for text, row in zip(TEXTS, expected):
        np.testing.assert_allclose(projection([text])[0], row, rtol=1e-5, atol=1e-5)


def test_sentences_are_scored_on_their_own_and_the_strongest_is_kept(vectorizer):
    weights = np.random.default_rng(1).normal(size=(2, vectorizer.n_features_out_))
    projection = Projection(vectorizer, weights)
    texts = [[["you", "are", "an", "idiot"], ["lovely", "photos", "of", "harbour"]],
             [["one", "sentence", "only", "here"]],
             [["go", "away"], ["a", "b", "c"], ["thanks", "for", "the", "piece"]]]
    whole, strongest = projection.whole_and_strongest(texts, min_words=3)
    flat = [" ".join(w for s in text for w in s) for text in texts]
    np.testing.assert_allclose(whole, reference(vectorizer, flat) @ weights.T, atol=1e-5)
    first = reference(vectorizer, ["you are an idiot", "lovely photos of harbour"]) @ weights.T
    third = reference(vectorizer, ["a b c", "thanks for the piece"]) @ weights.T
    np.testing.assert_allclose(strongest[0], first.max(axis=0), atol=1e-5)
    np.testing.assert_allclose(strongest[1], whole[1], atol=1e-5)  # one sentence: itself
    np.testing.assert_allclose(strongest[2], third.max(axis=0), atol=1e-5)


def test_the_word_table_grows_and_starts_over_past_its_bound(vectorizer, monkeypatch):
    monkeypatch.setattr(features, "_CACHE_LIMIT", 1500)
    weights = np.random.default_rng(2).normal(size=(2, vectorizer.n_features_out_))
    projection = Projection(vectorizer, weights)
    texts = [" ".join(f"w{i}x{j}" for j in range(40)) + " idiot" for i in range(100)]
    expected = reference(vectorizer, texts) @ weights.T
    for start in range(0, 100, 25):  # 4,000 distinct words: grows, then starts over
        np.testing.assert_allclose(projection(texts[start:start + 25]),
                                   expected[start:start + 25], rtol=1e-5, atol=1e-5)
    assert len(projection.words) <= 1500 + 25 * 41


@pytest.mark.parametrize("char_ngram_range", [(4, 5), (1, 3), (3, 8)])
def test_other_character_ranges_match_the_definition(char_ngram_range):
    vectorizer = CommentVectorizer(min_df=1, char_ngram_range=char_ngram_range).fit(TRAINING)
    np.testing.assert_allclose(vectorizer.transform(TEXTS).toarray(),
                               reference(vectorizer, TEXTS), rtol=1e-5, atol=1e-6)


def test_character_ranges_beyond_what_the_lookup_holds_are_refused():
    with pytest.raises(ValueError, match="char_ngram_range"):
        CommentVectorizer(char_ngram_range=(2, 10)).fit(TRAINING)


def test_a_nul_character_is_not_read_as_nothing(vectorizer):
    texts = ["\x00ab idiot", "a\x00b"]
    np.testing.assert_allclose(vectorizer.transform(texts).toarray(),
                               reference(vectorizer, texts), rtol=1e-5, atol=1e-6)


def test_a_failure_half_way_leaves_no_half_built_rows(vectorizer, monkeypatch):
    weights = np.random.default_rng(3).normal(size=(2, vectorizer.n_features_out_))
    projection = Projection(vectorizer, weights)
    projection(["lovely harbour"])

    def fail(*args, **kwargs):
        raise MemoryError("simulated")
    with monkeypatch.context() as patch:
        patch.setattr(features.CharProducts, "__call__", fail)
        with pytest.raises(MemoryError):
            projection(["brand new words here"])
    expected = reference(vectorizer, ["brand new words here", "lovely harbour"]) @ weights.T
    np.testing.assert_allclose(projection(["brand new words here", "lovely harbour"]),
                               expected, rtol=1e-5, atol=1e-5)


RAW_TEXTS = [
    "You are an IDIOT. Lovely harbour photos!\n\nthe council is a joke?",
    "f u c k you, troll",                       # spaced-out letters: closed up first
    "call 555 0102 233 now", "call 5550102233 now", "one 2 three",  # phone pieces side by side
    "visit quickcash dot biz for thanks", "polka dot piece",  # a spelled-out dot
    "line one\n\n\nline two. and three", "\n \n", "", "x", "lovely.",
    "a 3 month ban, idiot!!!", "привет idiot café…", "ｆｕｃｋ you",
    "odd \ue000 marker", "odd \ue001 marker", "\ue001",  # the markers' own characters
    "tabs\tand\u00a0spaces here", "never seen zzqx words zzqx",
    "go away troll and thanks for the piece. " * 3,
]


def test_raw_texts_are_cut_as_the_normaliser_cuts_them(vectorizer):
    from classifier.normalize import normalized_sentences
    weights = np.random.default_rng(7).normal(size=(3, vectorizer.n_features_out_))
    projection = Projection(vectorizer, weights)
    expected = Projection(vectorizer, weights).whole_and_strongest(
        [normalized_sentences(t) for t in RAW_TEXTS], min_words=3)
    for _ in range(2):  # new words, then every word known
        for got, want in zip(projection.whole_and_strongest_of_texts(RAW_TEXTS, min_words=3),
                             expected):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    for text, whole, strongest in zip(RAW_TEXTS, *expected):  # one at a time
        got_whole, got_strongest = projection.whole_and_strongest_of_texts([text], min_words=3)
        np.testing.assert_allclose(got_whole[0], whole, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(got_strongest[0], strongest, rtol=1e-9, atol=1e-9)


def test_raw_words_are_bounded_too(vectorizer, monkeypatch):
    monkeypatch.setattr(features, "_CACHE_LIMIT", 300)
    weights = np.random.default_rng(8).normal(size=(1, vectorizer.n_features_out_))
    projection = Projection(vectorizer, weights)
    # Many spellings of few words: the raw words outgrow the table's rows.
    texts = [" ".join(f"{w}{'!' * (i % 9)}{'?' * (i // 9)}" for w in ("idiot", "troll"))
             for i in range(400)]
    for start in range(0, 400, 50):
        projection.whole_and_strongest_of_texts(texts[start:start + 50])
        assert len(projection.words.raw_rows) <= 300 + 2 * 50 + 1


def test_phone_pieces_in_other_scripts_join_as_the_normaliser_joins_them(vectorizer):
    from classifier.normalize import normalized_sentences
    texts = ["call ٣٤٥ ٦٧٨٩ ١٢٣ now", "call 555 ٦٧٨٩ 233 now", "٣٤٥ alone"]
    weights = np.random.default_rng(9).normal(size=(2, vectorizer.n_features_out_))
    got = Projection(vectorizer, weights).whole_and_strongest_of_texts(texts)
    want = Projection(vectorizer, weights).whole_and_strongest(
        [normalized_sentences(t) for t in texts])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)


def test_odd_words_given_as_lists_leave_no_damage_behind(vectorizer):
    # A word holding a line break, and an empty word: given as lists, they are still words.
    vocabulary = {"a": 0, "b": 1, "idiot": 2}
    for words, counts, ids in ((["a\nb", "idiot", ""], [2, 1, 0], [0, 1, 2]),
                               (["zz", "", "idiot", "a b"], [1, 0, 1, 2], [-1, 2, 0, 1]),
                               (["idiot", "", ""], [1, 0, 0], [2]), ([], [], [])):
        got_counts, got_ids = features._token_ids_of_each(words, vocabulary)
        assert got_counts.tolist() == counts and got_ids.tolist() == ids
    weights = np.random.default_rng(10).normal(size=(2, vectorizer.n_features_out_))
    projection = Projection(vectorizer, weights)
    projection([["a\nb", "idiot", "troll"], ["", "idiot"], ["ab", "", "cd"]])
    # An empty word among others has no character n-grams and moves none of theirs.
    words = ["", "idiot", "", "troll", ""]
    together = features._char_rows(words, vectorizer).csr().toarray()
    alone = [features._char_rows([word], vectorizer).csr().toarray()[0] for word in words]
    np.testing.assert_array_equal(together, np.vstack(alone))
    assert together[1].any() and together[3].any()
    fresh = Projection(vectorizer, weights)
    for got, want in zip(projection.whole_and_strongest_of_texts(["you idiot troll"]),
                         fresh.whole_and_strongest_of_texts(["you idiot troll"])):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


ODD_WORDS = ["idiot", "idiot.", "troll!!", "", "a", "x", "zz", "naïve", "ｆｕｃｋ", "«quoted»",
             "it's", "well-known", "2024", "c0unc1l", "x" * 40, " ", "\u0000", "a\nb", "harbour"]


@pytest.mark.parametrize("char_ngram_range", [(2, 5), (4, 5), (1, 3), (3, 8)])
def test_scoring_takes_the_products_of_the_rows_training_builds(char_ngram_range):
    # Whether a batch's many words or a comment's few, a word's products and squared norm
    # are those of its row of weighted n-grams.
    vectorizer = CommentVectorizer(min_df=1, char_ngram_range=char_ngram_range).fit(TRAINING)
    weights = np.random.default_rng(11).normal(size=(len(vectorizer.char_vocabulary_), 3))
    char_products = features.CharProducts(vectorizer, weights)
    rows = features._char_rows(ODD_WORDS, vectorizer)
    idf = vectorizer.char_idf_.astype(np.float64)
    want_products = rows.csr() @ weights
    want_sqnorms = np.asarray(rows.csr().multiply(idf).sum(axis=1)).ravel()  # count x idf²
    for words in (ODD_WORDS, ODD_WORDS[:3]):
        products, sqnorms = char_products(words)
        np.testing.assert_allclose(products, want_products[:len(words)], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(sqnorms, want_sqnorms[:len(words)], rtol=1e-6, atol=1e-9)
    assert np.diff(rows.indptr)[[0, 1, 2, 18]].all()  # "idiot", "troll", "harbour" known


def test_a_words_norm_counts_every_occurrence_of_an_n_gram(vectorizer):
    # "lolol" holds " l", "lo" and "ol" twice ("lo" and "ol" each at two places): its norm
    # adds their idf squared twice, where the l2 norm of its counts would add it four times.
    rows = features._char_rows(["lolol"], vectorizer)
    idf = vectorizer.char_idf_.astype(np.float64)
    counts = rows.data / vectorizer.char_idf_[rows.indices]
    assert counts.max() == 2
    _, sqnorms = features.CharProducts(vectorizer, np.ones((len(idf), 1)))(["lolol"])
    assert sqnorms[0] == pytest.approx((counts * idf[rows.indices] ** 2).sum())


def test_a_text_that_is_not_a_string_is_refused_before_the_tables_are_touched(vectorizer):
    projection = Projection(vectorizer, np.ones((1, vectorizer.n_features_out_)))
    projection.whole_and_strongest_of_texts(["lovely harbour photos"])
    rows = len(projection.words)
    with pytest.raises(TypeError):
        projection.whole_and_strongest_of_texts(["ok", None])
    assert len(projection.words) == rows  # the warm tables are kept


def test_long_words_are_kept_by_the_part_their_form_depends_on(vectorizer):
    from classifier.normalize import LONGEST_WORD, normalized_sentences
    weights = np.random.default_rng(11).normal(size=(2, vectorizer.n_features_out_))
    projection = Projection(vectorizer, weights)
    texts = ["idiot " + "x" * 5000, "https://" + "a" * 3000 + " troll", "y" * 41 + "z idiot"]
    got = projection.whole_and_strongest_of_texts(texts)
    want = Projection(vectorizer, weights).whole_and_strongest(
        [normalized_sentences(t) for t in texts])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)
    assert max(map(len, projection.words.raw_rows)) <= LONGEST_WORD
