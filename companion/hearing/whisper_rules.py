"""What the Whisper engine weighs, and how: its tuned settings, the signals one segment's
decode gives, and the rules that accept or reject it. Pure: no model, no audio, so a rule can
be tested, and replayed over cached decodes, on its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection, Optional

from companion.core.vocabulary import framing, normalize
from companion.hearing import whisper_model


@dataclass(frozen=True)
class WhisperOptions:
    """Decoder settings; the defaults were chosen on the development split only."""

    model: str = whisper_model.DEFAULT
    tail_s: float = 0.5            # silence appended after the segment before encoding
    bucket_s: float = 0.25         # ... and more, up to a whole number of these
    candidates: int = 6            # phrases estimated best, then ranked on real scores
    max_no_speech: float = 0.9     # reject when the model is this sure nobody spoke
    min_mean: float = -2.5         # reject a phrase whose tokens (end included) average less
    margin: float = 2.5            # the phrase may trail the free transcript by this
    safety_margin: float = 4.5     # ... a safety word by this: missing "sharp" is worse
    # An answer (a number, yes/no) is allowed only when the loop has just asked for one, so
    # it is the likelier thing said: log-odds it gets when ranking and against the free
    # transcript, and (less, as noise must still not rate pain) against the floor above.
    answer_prior: float = 2.0
    answer_floor: float = 1.0
    # ... but an answer ranked first by its lift gives way to the best command ranked
    # below it that passes the rules without one: "stop" written "It's time" was "it's ten"
    # (dev, commands said as the rating question is asked: 7 -> 5 taken for a rating, all
    # else the same).
    answers_yield: bool = True
    # A safety phrase ranked just below a command (within this many log-odds a token of it)
    # is taken instead when it clears the safety words' rules: of the two, a missed "sharp"
    # costs more. `bench safety`: "sharp" acted on as "short" (hold shorter) 3 -> 1 of 120
    # renders; dev, test, the session soak and espeak-ng's "short" and "shorter" unchanged.
    # None turns it off.
    safety_lead: Optional[float] = 1.0
    # ... but a yes or a no must average this per token on its own (end included), lift
    # or not: the question they answer follows a safety stop (a yes carries on), and the
    # room's noise and words were heard as them at -2.3 to -3 per token (Speech Commands
    # "off" written "us" as a yes), where people's own yes and no mostly score better than
    # -2. Dev, at the safety question: negatives heard as yes or no 38 -> 9 of 361 (yes 19
    # -> 4), yes and no heard 135 -> 133 of 136 (a no missed is asked for again); test 12
    # -> 2 of 180 (yes 6 -> 0), 51 of 52 either way; `bench soak --during question`: no
    # 198 -> 11, yes 28 -> 6 in 782 utterances of room audio.
    yes_no_min_mean: float = -2.25
    near: int = 2                  # phrases spelled nearest the free transcript, ranked too
    # Second look at a near miss (rejected, but its phrase within look_mean of the floor
    # and look_margin of the margin): the segment resampled to these lengths (pitch and
    # tempo move together), and the first decode's look_top best phrases scored on each.
    # Accepted when every view ranks the same phrase first and comes as near, and one view
    # clears the rules outright. () turns it off.
    second_look: tuple[float, ...] = (0.9, 1.1)
    look_top: int = 3
    look_mean: float = 1.0
    look_margin: float = 1.0
    # The look rescues none of these intents, where a false one acts for the user and a
    # missed one is only said again. A routine's start, as judge() rescues none by its
    # sound: talk while waiting is what the companion hears all day (tiny.en-tuned's look
    # started the desk break from "let's take a quick break" in the waiting soak; dev and
    # test unchanged, `bench phrases` 2352 -> 2351 and, tuned, 2545 -> 2543 of 2850: "let's
    # do neck", "begin neck", "begin the neck" once). A yes: at the safety question it
    # carries on after the pain, where a missed one is asked again (Speech Commands "off",
    # written "us", was rescued as one by both models).
    look_never: tuple[str, ...] = ("start_routine", "yes")
    # CPU threads for the model; 0: the machine's cores, at most 4. One is the fastest on
    # this 2-core machine (its matrices are small: two threads spend more on handing work
    # over than they save; `bench recognition --split dev`, decode p50 / p95 85 / 199 ms
    # against 104 / 236 ms with two, the same results) and leaves the other core to the
    # voice and the audio. config.toml's whisper_threads sets it; compare on a 4-core Pi
    # with `bench recognition --whisper-threads N`.
    threads: int = 1
    # Ranking divides each candidate's log-probability by its length in tokens to this
    # power (Whisper's own ranker uses 1): a raw sum favours a short phrase that fits badly
    # over a longer one that fits well but for one word ("next" over "that's numb").
    length_penalty: float = 1.0
    # Each token past the first widens the margin by this, when the free transcript has a
    # word of the phrase (3 letters or more): every word of a longer phrase is one more
    # place for an accent or noise to cost it ("Star connect routine"), but noise that
    # shares no word with "what can I say" must not get the wider margin.
    margin_per_token: float = 1.5
    # A phrase of several tokens also needs the model's own transcript to be a likely one
    # (its log-probability at least this): over noise the free text is improbable ("I'm
    # gonna go", -11.4) and a long phrase's per-token average clears the floor too easily
    # (the soak heard "what can I say" there). Commands said scored -8.7 at worst on dev.
    min_free_multi: float = -10.0
    # The user's own takes (`companion enroll`, templates.py): the nearest taught phrase is
    # taken when it is this near outright, or this near when the decoder ranked the same
    # meaning first, and (either way) every taught phrase of another meaning is at least
    # taught_gap further. Distances are over the speech alone (templates.speech_span), where
    # a speaker's takes of one digit mostly lie under 0.25 apart and other words further
    # (chosen on dev with `bench recognition --taught 3`: false accepts no higher than
    # untaught).
    taught_sure: float = 0.18
    taught_agree: float = 0.26
    taught_gap: float = 0.02
    # Takes that carry their sound are shown to the model before what is heard (a take of
    # the nearest phrase, of the nearest of another meaning and of the model's pick, or
    # else two of other phrases; their words as the decoder's first text: "Three. Six."),
    # and it ranks those three phrases again: that ranking is the model's vote on the
    # takes, and a pick it no longer ranks first is rejected. Whisper hears a voice better
    # once shown how it says things (dev `bench recognition --learn`: 925 -> 938 of 992
    # right, wrong commands 16 -> 5, false accepts 3 either way; test 712 -> 719, 14 -> 11).
    show_takes: bool = True
    # Learning the voice in use: each phrase the loop acted on with at least
    # learn_confidence is kept (its encoder frames, between runs too: learned_file.py) as a
    # take, the newest learn_keep of each phrase, and matched like a taught one. Chosen on
    # dev (`bench recognition --learn`: every speaker's recordings in a shuffled order,
    # each heard with what was learned from their earlier ones): 863 -> 907 of 992 right,
    # false accepts 3; learning only from confident ones (0.7) learned fewer right and more
    # wrong; 3 takes 904, 8 takes 907 but more wrong commands. 0 keeps none: only what
    # `companion enroll` taught is used.
    learn_keep: int = 5
    learn_confidence: float = 0.5
    # ... and only when its speech lasts at most this: a command is shorter, and every take
    # kept costs memory and matching time for as long as the companion runs (50 frames of
    # 384 floats a second: 77 KB a second of take).
    learn_max_s: float = 3.0
    # A routine's start whose name alone was not made out ("Start that routine", "Star
    # connect routine" for "start neck routine"): when the free transcript begins as the
    # ranked start phrase does and ends with its last word, the ranking's choice of routine
    # is taken if the phrase's tokens average at least this (the floor above is -2.5). A
    # wrong routine is stopped with one word; the one never started makes the user give up.
    # Dev: espeak-ng's "start neck routine" 1 -> 5 of 8 heard while waiting (-2.5 to -3.5
    # per token); none of 381 negatives there (talk, words, noise) ends with "routine".
    start_min_mean: float = -4.0
    # A rejected phrase that the free transcript spells as other words of the same sound
    # ("That's um..." for that's numb, "Top Session", "file" for five; sounds.py), word for
    # word: taken when every word is at most alike_word_edits sounds from its counterpart
    # (espeak-ng's phonemes), all of them at most alike_max edits per sound, and the
    # phrase's tokens average at least alike_min_mean. One sound a word: "it's going well"
    # is three from "it's going numb", "maybe not" two from "maybe eight" (each acted on
    # in most espeak-ng renders with the whole-phrase limit alone). 0.3 in all: "on" is one
    # sound but a third from "one" (a word said after the rating question must not rate).
    alike_max: float = 0.3
    alike_word_edits: int = 1
    alike_min_mean: float = -3.5
    # Talk that begins with a command ("Next week we're visiting" for next, heard during a
    # session in `bench soak --during session`): a phrase is rejected when the free
    # transcript is its words and then talk_words or more other words, and the whole is a
    # likely sentence (free log-probability talk_free or better). A command said alone that
    # the model runs on writes repeats ("Yes, yes, yes") or unlikely words (-8.8 at best on
    # dev and test). espeak-ng talk starting with next, back or help: 21 of 64 renders
    # acted on, 6 at -4, 4 at -6 (where the transcript stops at "next"). Not stop, pause or
    # a safety word (said in a sentence, they still act), nor an answer just asked for.
    talk_words: int = 2
    talk_free: float = -6.0


@dataclass(frozen=True)
class Decoded:
    """Everything one segment's decode found (for rejection and for tuning)."""

    free_text: str           # the free transcript's first sentence
    free_score: float        # its log-probability, end included
    no_speech: float
    best: str                # the most probable allowed phrase, or "" (search gave up)
    best_score: float        # its log-probability, end included
    seconds: float           # segment length
    calls: int = 0           # decoder calls after the free pass (a batched one counts once)
    tokens: int = 0          # tokens of the best phrase's spelling
    prior: float = 0.0       # log-odds the caller's context gave the best phrase


def taught_verdict(distance: float, runner_up: float, agrees: bool, o: WhisperOptions
                   ) -> tuple[bool, float]:
    """The user's own takes (distance of the nearest taught phrase, of the nearest of another
    meaning, and whether the decoder ranked the same meaning first): taken?, confidence."""
    limit = o.taught_agree if agrees else o.taught_sure
    ok = distance < limit and runner_up - distance >= o.taught_gap
    return ok, round(max(0.0, min(1.0, 1.0 - distance / (2 * o.taught_agree))), 3) if ok else 0.0


def name_unheard(d: Decoded, o: WhisperOptions) -> bool:
    """A routine's start (d.best) said so that the free transcript frames it, first word
    (its first three letters: "Star" for "start") and last word alike, with the name
    between not made out: the ranking's name is taken if its tokens average o.start_min_mean
    or more. The caller knows the phrase is a routine's start with the name inside it."""
    said, phrase = normalize(d.free_text).split(), normalize(d.best).split()
    return (len(phrase) >= 3 and len(said) >= 2 and d.no_speech <= o.max_no_speech
            and said[0][:3] == phrase[0][:3] and said[-1] == phrase[-1]
            and d.best_score / (d.tokens + 1) >= o.start_min_mean)


def sounds_alike(d: Decoded, alike: Callable[[str, str], tuple[float, int]],
                 o: WhisperOptions) -> bool:
    """A phrase the rules rejected whose free transcript sounds like it, word for word:
    someone spoke (no-speech), the phrase fits well enough (o.alike_min_mean, with the
    answer's lift), the transcript has as many words (the same words spelled otherwise, not
    talk around them: "Let's take a quick break" is a few sounds from "let's do quick
    break"), and `alike` (sounds.alike, asked last: it runs espeak-ng) puts the two within
    o.alike_max over all their sounds and o.alike_word_edits in every word."""
    lift = o.answer_floor if d.prior > 0 else 0.0
    said, phrase = normalize(d.free_text).split(), normalize(d.best).split()
    if not (phrase and len(said) == len(phrase) and d.no_speech <= o.max_no_speech
            and (d.best_score + lift) / (d.tokens + 1) >= o.alike_min_mean):
        return False
    return near_enough(*alike(d.free_text, d.best), o)


def spelled_as_command(d: Decoded, commands: Collection[str],
                       alike: Callable[[str, str], tuple[float, int]], o: WhisperOptions) -> str:
    """An answer won by its lift (d.prior) whose free transcript is, word for word, the
    sound of one of `commands` (the allowed ones, answers left out) of two words or more:
    that command ("2 loud" is "too loud", not the "two" a rating question lifts; "Volume
    Town" is "volume down", not "one"). "" when there is none."""
    said = normalize(d.free_text).split()
    if len(said) < 2:
        return ""
    return next((p for p in sorted(commands) if len(p.split()) == len(said)
                 and near_enough(*alike(d.free_text, p), o)), "")


def near_enough(distance: float, word_edits: int, o: WhisperOptions) -> bool:
    """A transcript this far in sound from a phrase (sounds.alike) is the phrase."""
    return distance <= o.alike_max and word_edits <= o.alike_word_edits


def talk_after(d: Decoded, o: WhisperOptions) -> bool:
    """The free transcript begins with the phrase's words and runs on into other words, as
    a likely sentence: talk that happens to start with a command. Words said around any
    command (vocabulary.LEADS, TRAILS: "okay", "thank you") are not counted as talk."""
    said, phrase = _unframed(normalize(d.free_text)).split(), normalize(d.best).split()
    if not phrase or said[:len(phrase)] != phrase:
        return False
    others = [w for w in said[len(phrase):] if w not in phrase]
    return len(others) >= o.talk_words and d.free_score >= o.talk_free


def _unframed(words: str) -> str:
    """`words` without one leading and one trailing word of courtesy or hesitation, as
    vocabulary.parse reads a command ("okay, next, thank you" is "next")."""
    lead, trail = framing(words)
    return words[len(lead):len(words) - len(trail)].strip() or words


def weak_yes_no(d: Decoded, o: WhisperOptions, slack: float = 0.0) -> bool:
    """A yes or no (d.best) under its own floor, o.yes_no_min_mean."""
    return d.best_score / (d.tokens + 1) < o.yes_no_min_mean - slack


def verdict(d: Decoded, o: WhisperOptions, safety: bool, mean_slack: float = 0.0,
            gap_slack: float = 0.0, yes_no: bool = False) -> tuple[bool, float]:
    """The rules (each loosened by a slack, for the second look's near misses): accepted?,
    and the confidence, which falls as the phrase trails the free transcript. `safety`: the
    phrase is a safety word (a wider margin: missing "sharp" is worse than a false stop);
    `yes_no`: it is a yes or a no (a floor of its own)."""
    lift = o.answer_floor if d.prior > 0 else 0.0
    if (not d.best or d.no_speech > o.max_no_speech
            or (d.best_score + lift) / (d.tokens + 1) < o.min_mean - mean_slack):
        return False, 0.0
    if yes_no and weak_yes_no(d, o, mean_slack):
        return False, 0.0
    if d.tokens > 1 and d.free_score < o.min_free_multi:
        return False, 0.0
    gap = max(0.0, d.free_score - d.best_score - d.prior)  # < 0 when greedy missed it
    margin = base = o.safety_margin if safety else o.margin
    free_words = set(normalize(d.free_text).split())
    if any(len(w) >= 3 and w in free_words for w in normalize(d.best).split()):
        margin += o.margin_per_token * max(0, d.tokens - 1)
    # Confidence against the plain margin: a phrase let through only by the per-token
    # widening is heard, but not surely (callers that pick clear takes rely on this).
    conf = round(max(0.0, 1.0 - gap / (2 * base)), 3)
    return gap <= margin + gap_slack, conf
