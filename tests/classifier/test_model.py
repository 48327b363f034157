import pickle

import numpy as np
import pytest

from classifier import LABELS, CommentClassifier
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def model(seed_model):
    return seed_model.model


def label_of(model, text, label):
    return model.predict_scores([text])[0].labels[label]


@pytest.mark.parametrize("plain, disguised, label", [
    ("you are an idiot", "you are an 1d10t", "insult"),
    ("you are an idiot", "y o u  a r e  a n  i d i o t", "insult"),
    ("you are an idiot", "you are an idiooooot", "insult"),
    ("you are an idiot", "you are an i.d.i.o.t", "insult"),
    ("you are an idiot", "you are an \u0456di\u043et", "insult"),
    ("shut up you moron", "shut up you m0r0n", "insult"),
    ("what a load of shit", "what a load of sh1t", "obscene"),
    ("what a load of shit", "what a load of s h i t", "obscene"),
    ("fuck off", "ｆｕｃｋ off", "obscene"),
    ("fuck off", "f\u200bu\u200bc\u200bk off", "obscene"),
    ("fuck off", "&#102;&#117;&#99;&#107; off", "obscene"),  # HTML character references
    ("you are an idiot", "you are an &#x69;d&#105;ot", "insult"),
])
def test_obfuscated_variants_score_like_their_plain_form(model, plain, disguised, label):
    assert label_of(model, disguised, label) == pytest.approx(label_of(model, plain, label), abs=0.1)
    assert label_of(model, disguised, label) > 0.5


def test_typographic_quotes_score_as_the_ascii_ones_a_keyboard_types(model):
    """Phones type "don’t": it is the seed corpus's "don't", not a word never seen."""
    typed = ["You don’t belong here, go back where you came from.", "It’s a “fair” point, I’d say."]
    ascii = ["You don't belong here, go back where you came from.", 'It\'s a "fair" point, I\'d say.']
    np.testing.assert_array_equal(model.predict_proba(typed), model.predict_proba(ascii))


@pytest.mark.parametrize("text, label", [
    ("You are a pathetic idiot and everyone here knows it.", "insult"),
    ("Keep writing this and I will find you and hurt you.", "threat"),
    ("Tomorrow I am going to kill you, Dennis.", "threat"),
    ("Earn $5,000 a week from home, message me on WhatsApp +1 555 010 2233", "spam"),
])
def test_harmful_comments_score_high_on_their_label(model, text, label):
    result = model.predict_scores([text])[0]
    assert result.labels[label] > 0.5
    assert result.score > 0.5


def test_probabilities_are_in_range_and_the_score_is_the_last_column(model):
    texts = ["hello there", "you idiot", "buy now at cheap dot biz", "I will hurt you"]
    proba = model.predict_proba(texts)
    assert proba.shape == (4, len(LABELS) + 1)
    assert np.all((proba >= 0) & (proba <= 1))
    assert [round(s.score, 6) for s in model.predict_scores(texts)] == [round(p, 6) for p in proba[:, -1]]
    assert proba[0, -1] < 0.5 and min(proba[1:, -1]) >= 0.5


@pytest.mark.parametrize("text, label, words", [
    ("Honestly you are an idiot, the article was fine.", "insult", {"idiot"}),
    ("Great piece. You are a 1d10t though.", "insult", {"1d10t"}),
    ("I know where you live and I will hurt you.", "threat", {"know", "live", "hurt"}),
    ("You people are vermin and should be deported.", "severe_toxicity", {"vermin", "deported"}),
    ("Make money fast, call +1 555 010 2233 today!", "spam", {"+1 555 010 2233", "money"}),
    ("Well &#102;&#117;&#99;&#107; off then.", "obscene", {"&#102;&#117;&#99;&#107;"}),
])
def test_explain_points_at_the_words_a_moderator_would_highlight(model, text, label, words):
    spans = [span for span in model.explain(text) if span.label == label]
    assert spans, f"no {label} spans for {text!r}"
    assert spans[0].text in words
    for span in spans:
        assert text[span.start:span.end] == span.text
        assert span.text.lower() not in {"you", "are", "and", "i", "will", "the", "a"}


def test_explain_spans_keep_a_reference_whole_and_nothing_after_it():
    from classifier.model import _explain_tokens
    text = "well &#102;&#117;&#99;&#107; off; you &#x69;d&#105;ot;; &#107;ab; me&nothing;"
    assert [text[a:b] for a, b in _explain_tokens(text)] == [
        "well", "&#102;&#117;&#99;&#107;", "off", "you", "&#x69;d&#105;ot", "&#107;ab",
        "me&nothing"]


def test_explain_gives_no_spans_for_a_clean_comment(model):
    assert model.explain("Thanks for the thorough reporting on the flood defences.") == []


def test_pickle_round_trip_scores_the_same(model):
    texts = ["you idiot", "nice article"]
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(clone.predict_proba(texts), model.predict_proba(texts))


def test_fit_refuses_a_label_matrix_of_the_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        CommentClassifier().fit(["a", "b"], np.zeros((2, 3)))


def test_a_label_with_no_examples_gets_a_constant_low_probability():
    texts = [f"clean comment number {i}" for i in range(10)] + [f"you idiot {i}" for i in range(10)]
    y = np.zeros((20, len(LABELS)), dtype=int)
    y[10:, 0] = y[10:, 2] = 1
    model = CommentClassifier(calibration_folds=2).fit(texts, y)
    threat = model.predict_scores(["I will hurt you"])[0].labels["threat"]
    assert threat < 0.01


@pytest.mark.parametrize("text", [
    "The transport secretary has failed commuters for three years running and should go.",
    "This budget is a shambles and the chancellor knows it.",
    "Your paper keeps printing press releases as news. Do better.",
    "The referee was dreadful tonight and the league needs to review his decisions.",
    "Absolutely furious that the library is closing. Who signed this off?",
    "The company's apology is worthless until they compensate the families.",
    "I think you're wrong about the housing figures; the census says otherwise.",
    "Ok, thanks",
    "nah not really",
    "hi folks",
    "Thanks for covering the council meeting, very useful.",
    "The new phone's battery life is a killer feature.",
    "I hate traffic on the ring road every morning.",
    "The suspect was charged with assault and released on bail.",
])
def test_ordinary_heated_but_civil_and_short_comments_stay_under_the_review_threshold(model, text):
    """Written for this test, absent from the seed corpus."""
    assert model.predict_scores([text])[0].score < 0.5


def test_scoring_path_equals_the_feature_matrix_product(model):
    texts = ["You are an idiot", "Lovely photos of the harbour at dawn.", "f u c k this",
             "Buy now at quickcash247 dot biz", "", "🤡🤡🤡", "a " * 50]
    direct = model.transform(texts) @ model.coef_.T
    np.testing.assert_allclose(model._project(texts), direct, rtol=1e-4, atol=1e-4)


def test_one_pass_scoring_equals_whole_and_strongest_sentence_from_the_feature_matrix(model):
    from classifier.model import _sentences_to_score
    from classifier.normalize import normalized_sentences
    texts = ["Great piece. You are a 1d10t though, and a liar.",
             "== Edit request ==\nPlease fix the date.\nYou utter moron, leave it alone!",
             "One sentence only here", "", "ok. ok. ok.", "Fine. Short. You absolute clown there."]
    weights = model.coef_.T
    whole = model.transform(texts) @ weights
    strongest = whole.copy()
    owners, pieces = _sentences_to_score([normalized_sentences(t) for t in texts])
    if pieces:
        values = model.vectorizer_.transform(pieces) @ weights
        for owner in set(owners):
            strongest[owner] = values[[i for i, o in enumerate(owners) if o == owner]].max(axis=0)
    expected = (whole + strongest) / 2 + model.intercept_
    np.testing.assert_allclose(model.decision_function(texts), expected, rtol=1e-4, atol=1e-4)


def test_one_abusive_sentence_is_not_averaged_away_by_a_long_polite_comment(model):
    polite = ("Thanks for the detailed report on the new library opening hours. "
              "The Saturday schedule will help families a lot. "
              "I hope the council keeps funding the children's reading club next year. ")
    alone = model.predict_scores(["You are a pathetic idiot."])[0].score
    buried = model.predict_scores([polite + "You are a pathetic idiot."])[0].score
    assert model.predict_scores([polite])[0].score < 0.5
    assert buried >= 0.5
    assert alone >= buried


def test_the_score_is_the_recalibrated_noisy_or_of_every_harmful_head(model):
    texts = ["hello there", "you idiot", "buy now at cheap dot biz", "I will hurt you",
             "Tomorrow I am going to kill you, Dennis.", "the referee was poor today"]
    logits = model.decision_function(texts) * model.calibration_[:, 0] + model.calibration_[:, 1]
    heads = 1 / (1 + np.exp(-logits))
    obscene = model.labels_.index("obscene")
    assert 0 < model.links_[obscene] < 1 and (np.delete(model.links_, obscene) == 1).all()
    noisy_or = 1 - np.prod(1 - model.links_ * heads, axis=1)
    slope, offset = model.combination_
    assert slope > 0  # more doubt, higher score
    expected = 1 / (1 + np.exp(-(slope * np.log(noisy_or / (1 - noisy_or)) + offset)))
    unsaturated = noisy_or < 1 - 1e-9  # where the plain formula still has digits to give
    assert np.allclose(model.predict_proba(texts)[unsaturated, -1], expected[unsaturated])


def test_a_reply_a_swear_word_at_nobody_and_a_slur_at_a_person_score_apart(model):
    reply, swearing, slur = model.predict_proba([
        "Agreed.", "Damn, that is a hell of a tax rise.",
        "You stupid f*ggot, go back to your country."])[:, -1]
    assert reply < 0.05
    assert 0.05 < swearing < 0.5  # swearing at nobody counts only as far as it goes with harm
    assert slur > 0.95
    assert reply < swearing < slur


def test_swearing_counts_towards_the_combined_score_as_far_as_it_goes_with_harm(model):
    obscene = model.labels_.index("obscene")
    assert 0.1 < model.links_[obscene] < 0.99
    assert (np.delete(model.links_, obscene) == 1).all()


def test_no_comment_is_certain_so_reject_at_one_never_rejects(model):
    texts = ["you are an idiot", "you are a stupid idiot", "shut up you moron, nobody cares",
             "you are a worthless piece of garbage, I will kill you, you f*cking idiot"]
    proba = model.predict_proba(texts)
    assert proba[:, -1].min() > 0.99
    assert proba.max() < 1.0


def test_the_combined_score_is_a_probability_on_held_out_comments():
    """Calibrated: among comments scored about p, about p are harmful (at the training
    rate, before the shift to live traffic). Measured on a seed-corpus split."""
    from sklearn.model_selection import train_test_split

    from classifier import seed_corpus
    corpus = seed_corpus(ROOT / "training_data")
    harmful = (corpus.y == 1).any(axis=1)
    train, test = train_test_split(np.arange(len(corpus)), test_size=0.25, random_state=1,
                                   stratify=harmful)
    model = CommentClassifier(prevalence=None).fit([corpus.texts[i] for i in train],
                                                   corpus.y[train])
    score = model.predict_proba([corpus.texts[i] for i in test])[:, -1]
    assert abs(score.mean() - harmful[test].mean()) < 0.05
    for low, high in ((0.0, 0.2), (0.8, 1.0)):
        band = (score >= low) & (score < high)
        assert low - 0.1 <= harmful[test][band].mean() <= high + 0.1


def _weighted_toy_corpus():
    clean = [f"the {w} report was useful and clear" for w in
             ("budget", "council", "weather", "transport", "housing", "school", "court", "health")]
    rude = [f"you are a {w} and a fool" for w in
            ("clown", "joke", "disgrace", "menace", "bore", "liar", "coward", "bully")]
    # "zorblat" appears once as harmless and once as an insult: the weights decide.
    texts = clean + rude + ["zorblat is a lovely word", "you zorblat"]
    y = np.zeros((len(texts), len(LABELS)), dtype=int)
    y[len(clean):len(clean) + len(rude), [0, 2]] = 1
    y[-1, [0, 2]] = 1
    return texts, y


def test_a_heavier_row_pulls_the_model_towards_its_labels():
    texts, y = _weighted_toy_corpus()
    even = CommentClassifier(calibration_folds=2).fit(texts, y)
    weights = np.ones(len(texts))
    weights[-2] = 20.0  # the harmless "zorblat" counts for twenty
    tilted = CommentClassifier(calibration_folds=2).fit(texts, y, sample_weight=weights)
    assert (tilted.decision_function(["zorblat"])[0, 2]
            < even.decision_function(["zorblat"])[0, 2])


@pytest.mark.parametrize("weights", [np.ones(3), np.array([1.0] * 17 + [0.0]),
                                     np.array([1.0] * 17 + [np.nan]), -np.ones(18)])
def test_fit_refuses_weights_that_are_not_one_positive_number_per_text(weights):
    texts, y = _weighted_toy_corpus()
    with pytest.raises(ValueError, match="sample_weight"):
        CommentClassifier().fit(texts, y, sample_weight=weights)


def test_naive_bayes_scaling_is_folded_into_the_weights(model):
    """The scaled features are a training device: the saved weights score the plain ones."""
    texts = ["you absolute idiot", "thanks for the clear report on the budget"]
    whole = model.transform(texts) @ model.coef_.T + model.intercept_
    single_sentence = model.decision_function(texts)  # one sentence: whole == strongest
    assert np.allclose(whole, single_sentence, atol=1e-4)
    assert model.nb_scaling


def test_explain_points_at_the_likeliest_label_when_only_the_combined_score_is_doubtful(model):
    texts = ["This is a pretty dumb take, honestly.", "What a silly article, honestly.",
             "Nobody asked for your opinion.", "Get a life, mate."]
    proba = model.predict_proba(texts)
    # A text whose combined score stands above every single label's probability.
    i = next(i for i in range(len(texts)) if proba[i, -1] > proba[i, :-1].max() + 0.01)
    between = (proba[i, -1] + proba[i, :-1].max()) / 2
    spans = model.explain(texts[i], min_probability=between)
    likeliest = LABELS[int(np.argmax(proba[i, :-1]))]
    assert spans and {span.label for span in spans} == {likeliest}
