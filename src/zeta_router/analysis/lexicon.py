"""Keyword families for the structural features, as words and bigrams (lowercase).

Matched by set lookup on the tokenised ask, which is an order of magnitude faster than a regex
alternation in Python. A key may belong to several families ("prove" is a math word and a
reasoning ask). Misspellings users really type are listed alongside the spelling.
"""

from __future__ import annotations

from collections.abc import Mapping

CODE, CODE_VERB, CODE_NOUN, RETRIEVAL, MATH, REASON, SIMPLE, NUMBER = range(8)
FAMILIES = 8

_CODE = """
code coding coder python py javascript js typescript ts java golang rust c++ c# cpp sql mysql
postgres postgresql sqlite regex regexp bash shell zsh powershell compile compiler compiling
compiles bug bugs debug debugging refactor api apis endpoint pytest jest junit dockerfile docker
kubernetes k8s yaml json html css react vue angular django flask fastapi numpy pandas git github
npm pip algorithm algorithms recursion recursive array arrays dict hashmap variable variables
loop syntax programming program snippet leetcode runtime segfault pointer async await thread
threads deadlock kotlin swift ruby php perl scala haskell lua matlab vba frontend backend
library framework repo linter linting stacktrace traceback exception exceptions nullpointer
typeerror valueerror keyerror indexerror undefined null nullptr struct enum interface generics
lambda closure callback promise iterator decorator method methods class classes module modules
package import dependency dependencies unittest webpack vite node nodejs deno cargo gradle maven
cmake makefile linux terminal cli cron nginx apache http https rest graphql websocket oauth jwt
orm migration schema database query queries index indices boolean string strings integer int
float char bytes utf8 unicode encoding parse parser parsing serialize deserialize csv xml regexes
excel formula spreadsheet css div github cron
crontab vlookup macro script scripts sh env config cuda gpu tensor pytorch
tensorflow sklearn jupyter notebook vim emacs vscode ide ci pipeline deploy deployment
"""
_CODE_VERB = """
write implement fix debug refactor optimize optimise convert port review generate create build
make add rewrite translate explain complete finish test mock parse code
"""
_CODE_NOUN = """
function functions code script program class method query regex test tests endpoint component
module api cli bot parser algorithm snippet decorator hook middleware handler dockerfile makefile
lambda schema migration loop unittest
"""
_RETRIEVAL = """
summarize summarise summarize: summary summarization tl;dr tldr gist recap condense
extract excerpt passage article document documents doc docs transcript context
according_to based_on the_text this_text the_article this_article the_passage this_passage
the_document this_document the_paper this_paper the_report this_report the_email this_email
the_author the_writer the_context the_transcript the_excerpt the_story the_chapter the_notes
the_contract the_policy the_memo the_thread the_review the_reviews the_abstract the_manual
the_readme the_faq the_post the_letter the_essay the_minutes the_conversation the_doc
above_text text_above above_article article_above above_passage passage_above the_above
following_text following_article following_passage following_document following_context
text_below article_below provided_text provided_context provided_document mentioned_in
key_points main_points key_takeaways takeaways main_idea main_ideas bullet_points
what_does this_document this_doc these_notes the_meeting this_meeting the_call this_call
the_speaker the_interview cited quote quotes quoted
"""
_MATH = """
solve equation equations integral derivative differentiate integrate prove proof theorem lemma
probability die dice rolls odds chance expected calculate
weighings weigh compute percent percentage ratio average mean median fraction
fractions prime primes divisible factor factors modulo mod polynomial matrix matrices vector
eigenvalue eigenvalues logarithm log geometry triangle circle radius angle simplify evaluate
inequality sequence series converge converges limit integers integer real_numbers combinatorics
permutations combinations dice coin coins per_hour km mph miles interest profit discount cost
costs total each twice half dozen how_many how_much find_all find_the value remainder area
volume perimeter sum product digits digit sqrt squared cube cubic x y n apples minutes hours
days weeks speed rate rates price prices dollars $ cents km/h meters kg liters odd even
"""
_REASON = """
step_by_step step-by-step think_carefully think_through reasoning reason compare comparison
contrast tradeoff tradeoffs trade-off trade-offs pros cons advantages disadvantages why
explain_why explain_how prove justify derive deduce infer puzzle riddle logic logical paradox
plan planning strategy strategies design architect architecture evaluate analyze analyse
analysis assess argue argument implications implication consequences what_would what_if
hypothetical should_i which_is better_option decide decision weigh critique counterargument
estimate fermi optimal in-depth detailed thorough cause causes root_cause dilemma ethics
ethical philosophy philosophical lying liar knights knaves true_or is_it_possible must_be
cannot_be scenario scenarios recommend_a long-term risk risks evidence hypothesis thought
experiment counterfactual steps roadmap framework implications versus vs difference
differences tradeoff
"""
_SIMPLE = """
capital who_is who_was who_wrote who_invented who_painted who_discovered when_did when_was
where_is what_year spell define definition meaning synonym synonyms antonym translate
translation rephrase rewrite reword paraphrase proofread grammar spelling typo typos formal
polite casual tone shorter joke jokes poem haiku slogan tagline recipe fun_fact weather birthday
caption tweet title subject_line email_to reply_to name_ideas suggest_a how_do_you_say
thank thanks favorite favourite song movie movies book books sentence sentences word
what's what_is who's fact list_of give_me tell_me quick quickly briefly short one_word
"""
_NUMBER = """
one two three four five six seven eight nine ten eleven twelve twenty thirty hundred thousand
million twice thrice half third quarter double triple dozen
"""
_GREETINGS = """
hi hello hey yo hiya howdy thanks thank thx ty ok okay cool nice great lol haha good bonjour hola
hallo ciao salut sup gm morning evening night bye goodbye
"""
_QUESTION_STARTS = """
what who when where why how which is are does do did can could should would will list name give
find identify explain describe summarize summarise tell
"""
GREETINGS = frozenset(_GREETINGS.split())
QUESTION_STARTS = frozenset(_QUESTION_STARTS.split())


def _table() -> Mapping[str, tuple[int, ...]]:
    table: dict[str, list[int]] = {}
    for fam, text in (
        (CODE, _CODE + _CODE_NOUN),
        (CODE_VERB, _CODE_VERB),
        (CODE_NOUN, _CODE_NOUN),
        (RETRIEVAL, _RETRIEVAL),
        (MATH, _MATH),
        (REASON, _REASON),
        (SIMPLE, _SIMPLE),
        (NUMBER, _NUMBER),
    ):
        for key in text.split():
            words = key.replace("_", " ")
            fams = table.setdefault(words, [])
            if fam not in fams:
                fams.append(fam)
    return {k: tuple(v) for k, v in table.items()}


TABLE: Mapping[str, tuple[int, ...]] = _table()
# First words of the bigram keys, so the hot loop only builds a bigram when it could match.
BIGRAM_FIRSTS = frozenset(k.split(" ", 1)[0] for k in TABLE if " " in k)
