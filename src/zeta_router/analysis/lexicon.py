"""Keyword families for the structural features, as words and bigrams (lowercase).

Matched by set lookup on the tokenised ask, which is an order of magnitude faster than a regex
alternation in Python. A key may belong to several families ("prove" is a math word and a
reasoning ask). Misspellings users really type are listed alongside the spelling.
"""

from __future__ import annotations

from collections.abc import Mapping

(CODE, CODE_VERB, CODE_NOUN, RETRIEVAL, MATH, REASON, SIMPLE, NUMBER) = range(8)
(TRANSFORM, BACK_REF, REPLY, SUMMARY) = range(8, 12)
(EXPLAIN, WRITING) = range(12, 14)
FAMILIES = 14

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
rsync ssh scp curl wget grep sed awk xargs chmod chown systemd systemctl terraform ansible helm
gunicorn uvicorn arduino raspberry unity godot hashmap hashset arraylist linkedlist stream
streams dataframe dataframes df groupby matplotlib seaborn spark kafka redis mongodb mongo
elasticsearch firebase supabase aws s3 ec2 gcp azure bigquery snowflake airflow cors ssl tls
dns localhost port 404 502 frontend fullstack devops webhook webhooks cookie cookies jwt token
tailwind bootstrap jquery nextjs svelte flutter dart android ios xcode yarn pnpm venv
virtualenv conda poetry cmake gcc clang cargo goroutine goroutines mutex semaphore nums
linked_list binary_tree time_complexity big-o subarray substring leetcode hackerrank mock
fixture fixtures assert selenium playwright webpack babel eslint prettier typescript's
funcion función funciones código codigo programa programar fonction fonctions requête requete
erreur fehler funktion skript programmieren schleife klasse
код кода коде функцию функция функции скрипт программу программа регулярное регулярку
питоне питон запрос_sql массив цикл ошибку_в função funções código programação laço
quicksort mergesort heapsort bubblesort binary_search big_o complexity_of hashtable
directory directories subdirectory subdirectories sub-directories current_directory
directory_tree home_directory permission permissions executable filename filenames symlink
symlinks pid kernel tarball stdout stderr stdin command_line command-line file_extension
xgboost lightgbm catboost transformers embeddings neural_network neural_networks
machine_learning deep_learning llm llms rlhf smart_contract webapp web_app mobile_app
"""
_CODE_VERB = """
write implement fix debug refactor optimize optimise convert port review generate create build
make add rewrite translate explain complete finish test mock parse
напиши написать исправь сделай escreva escreve crie faça escribe escribir crea haz schreibe
schreib écris écrire
"""
_CODE_NOUN = """
function functions code script program class method query regex test tests endpoint component
module api cli bot parser algorithm snippet decorator hook middleware handler dockerfile makefile
lambda schema migration loop unittest
sketch formula macro command query
функцию функция код скрипт программу регулярное регулярку função código script programa
fonction funktion función
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
the_study this_study the_table this_table the_data these_numbers the_figures the_release
release_notes the_warranty the_handbook the_brief the_chat the_log the_slides the_deck
the_file this_file the_pdf the_page this_page the_website the_results search_results
the_excerpts from_the from_this the_sources this_review this_email this_article this_clause
the_clause this_section the_section mentioned mention mentions says said state states stated
zusammen zusammenfassung zusammenfassen fasse laut_dem im_text dem_text résume résumer
resumen resumir resume según_el del_texto el_texto le_texte du_texte selon_le d'après
texto trecho resuma resumo com_base o_texto este_texto leia текст текста тексту статью статья
статьи письмо письма кратко перескажи отрывок документ документа согласно
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
calcula calcular calculer berechne berechnen cuánto cuántos cuántas combien wie_viele
möglichkeiten probabilidad wahrscheinlichkeit probabilité tip split unit_price per_month
per_year compound cm grams litres gallons kilometres kilometers hour minute
ways how_many_ways arrange arrangements
сколько найдите найди вычисли вычислите решите реши задача задачу уравнение вероятность
quantos quantas quanto calcule calcula dias horas kitne kitna
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
explain_step walk_through walk_me predict happens happen happened how_would how_does
how_do_we check_whether is_it_better better_deal worth better_off riskier likely unlikely
more_likely less_likely smarter justify_the warum pourquoi por_qué porque
explain show_the show_your your_work work_it work_out realistic trade_offs trade_off
should_a should_we should_the invest investment jsutify justfy explian prove_that argue_for
by_step but_can't but_cannot but_never
therefore hence conclude conclusion valid invalid fallacy syllogism follows
lies always_lies tells_the the_truth truth-teller truthteller what_am
would_it it_take would_take are_needed needed_to estimate_the long_would much_would
brothers_and sisters_i докажи доказать докажите почему логика загадка demuestra demuéstrame
demostrar demonstre prove_que beweise beweis démontre prouve montrer_que
"""
_SIMPLE = """
capital who_is who_was who_wrote who_invented who_painted who_discovered when_did when_was
where_is what_year spell define definition meaning synonym synonyms antonym translate
translation rephrase rewrite reword paraphrase proofread grammar spelling typo typos formal
polite casual tone shorter joke jokes poem haiku slogan tagline recipe fun_fact weather birthday
caption tweet title subject_line email_to reply_to name_ideas suggest_a how_do_you_say
thank thanks favorite favourite song movie movies book books sentence sentences word
what's what_is who's fact list_of give_me tell_me quick quickly briefly short one_word
name_for title_ideas ideas capital_of population language_spoken stand_for abbreviation
hello hi hey thanks congrats limerick rhyme pun nickname random mean means
кто что_такое столица переведи привет спасибо quem qual traduza obrigado
"""
_NUMBER = """
one two three four five six seven eight nine ten eleven twelve twenty thirty hundred thousand
million twice thrice half third quarter double triple dozen
"""
_TRANSFORM = """
translate translation traduce traducir traduis traduire traduction übersetze übersetzen
übersetzung rewrite rephrase reword paraphrase proofread polish shorten simplify grammar
spelling formal informal friendlier polite politely tone correct_the fix_the_grammar
переведи перевести перевод traduza traduzir traduzca anuvaad
"""
_BACK_REF = """
earlier i_said did_i i_told told_you i_mentioned i_wrote i_asked we_discussed you_said
remind_me again previously mentioned i_gave gave_you i_shared i_pasted i_sent what_i
"""
# Writing a reply to a pasted message, or continuing a pasted story: the answer is grounded in
# that text (retrieval), unlike making the text itself more polite (a rewrite).
_REPLY = """
continue continuation next_scene next_chapter keep_going carry_on what_happens_next continúa
continua fortsetzen weiterschreiben продолжи продолжение
reply respond response answer_her answer_him answer_them answer_this write_back replying
responding draft_a_reply responde responda responder respuesta resposta antworte antwort
antworten répondre réponds réponse ответ ответь ответить
"""
# Asks that condense provided text: a rewrite of it into another language is no such ask.
_SUMMARY = """
summarize summarise summary summarization tl;dr tldr gist recap condense key_points main_points
key_takeaways takeaways resumen resumir resume resuma resumo zusammenfassung zusammenfassen
fasse résume résumer кратко перескажи
"""
# Explanations of general knowledge: evidence that an ask is not a puzzle or a calculation even
# when it says "why" (a REASON key); used by the semantic head only.
_EXPLAIN = """
explain describe why how_does how_do how_did difference differences significance impact impacts
history concept overview benefits importance role_of types_of characteristics causes effects
meaning origin origins what_are
"""
# Writing and role-play: the model writes, it does not work a problem out (semantic head only).
_WRITING = """
story stories poem poems essay lyrics song rap script speech letter blog novel fiction character
characters roleplay role-play pretend act_as act_like imagine_you you_are persona dialogue
monologue joke jokes limerick haiku sonnet tweet caption slogan cover_letter resume proposal pitch
advertisement tale narrate comedy satire satirical sarcastic funny humorous creative write_a
write_me
"""
# Units for unit-conversion asks ("30 cm in inches"); matched by regex in features.py.
UNITS = (
    "mm", "cm", "m", "km", "in", "inch", "inches", "ft", "feet", "foot", "yd", "yards?", "mi",
    "miles?", "g", "grams?", "kg", "kilograms?", "lbs?", "pounds?", "oz", "ounces?", "ml", "l",
    "liters?", "litres?", "gallons?", "cups?", "tbsp", "tsp", "teaspoons?", "tablespoons?",
    "c", "f", "celsius", "fahrenheit", "kelvin", "mph", "km/h", "kph", "acres?", "hectares?",
    "usd", "eur", "euros?", "dollars?", "gbp", "yen", "hours?", "minutes?", "seconds?", "days?",
    "weeks?", "years?", "mb", "gb", "tb", "kb", "stones?", "knots?",
)  # fmt: skip
# Keys for text without spaces between words (Chinese, Japanese), matched as substrings.
_CJK_KEYS = (
    (CODE, "代码 函数 编程 报错 数组 变量 接口 程序 脚本 算法 python java sql 读取 安装"),
    (CODE, "コード 関数 プログラム インデックス エラー"),
    (CODE_VERB, "写 实现 修复"),
    (CODE_NOUN, "函数 代码 脚本 程序"),
    (RETRIEVAL, "总结 摘要 概括 根据 文章 这段 上文 下面的内容 以下内容 文中 原文 下面的文字"),
    (RETRIEVAL, "要約 以下の文章 本文 まとめ"),
    (MATH, "多少 几 计算 求 证明 概率 面积 周长 方程 厘米 只 計算 確率 何人 いくつ"),
    (REASON, "为什么 如何 分析 比较 推理 証明 嘘つき 正直者 論理 なぜ 謎"),
    (SIMPLE, "是什么 哪里 哪个 谁 翻译 你好 首都 谢谢 意思"),
    (TRANSFORM, "翻译 改写 润色 翻訳 訳して"),
    (REPLY, "回复 返信 续写 続き"),
    (SUMMARY, "总结 摘要 概括 要約 まとめ"),
)
_GREETINGS = """
hi hello hey yo hiya howdy thanks thank thx ty ok okay cool nice great lol haha good bonjour hola
hallo ciao salut sup gm morning evening night bye goodbye
"""
_QUESTION_STARTS = """
what who when where why how which is are does do did can could should would will list name give
find identify explain describe summarize summarise tell
"""
WH_WORDS = frozenset(["what", "when", "where", "who", "whom", "whose", "which", "why", "how"])
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
        (TRANSFORM, _TRANSFORM),
        (BACK_REF, _BACK_REF),
        (REPLY, _REPLY),
        (SUMMARY, _SUMMARY),
        (EXPLAIN, _EXPLAIN),
        (WRITING, _WRITING),
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


def _cjk_table() -> Mapping[str, tuple[int, ...]]:
    table: dict[str, list[int]] = {}
    for fam, keys in _CJK_KEYS:
        for key in keys.split():
            fams = table.setdefault(key, [])
            if fam not in fams:
                fams.append(fam)
    return {k: tuple(v) for k, v in table.items()}


CJK_TABLE: Mapping[str, tuple[int, ...]] = _cjk_table()

# Estimation ("Fermi") questions: a quantity asked of something too large or too hypothetical
# to look up ("how many drops of water fill a pool"), where a trivia question asks a recorded
# figure ("how many episodes are there in dragon ball z"). The start asks for a quantity; one of
# the words makes it an estimate. Chosen from the Fermi realFP *train* split, which is not among
# the evaluated items (BENCHMARKS.md, issue 16).
ESTIMATE_STARTS = frozenset(
    [
        ("how", "many"), ("how", "much"), ("how", "long"), ("how", "large"), ("how", "big"),
        ("how", "far"), ("how", "heavy"), ("how", "fast"), ("how", "tall"),
        ("what", "fraction"), ("what", "percentage"), ("what", "proportion"),
        ("what", "percent"),
    ]
)  # fmt: skip
_ESTIMATE_WORDS = """
would could fill fit needed need take takes per average total entire whole world world's
earth earth's ocean oceans sun atmosphere lifetime daily yearly annually every if estimate
approximately roughly assuming suppose imagine
"""
ESTIMATE_WORDS = frozenset(_ESTIMATE_WORDS.split())
# Shell one-liners as people describe them ("List all *.txt files under /etc", "Kill processes
# listening on port 3000"): an imperative from this list first, then a file-system or process
# word, or a path, glob or variable. Chosen from a later page of NL2Bash's all.nl (offset
# 400000), not the evaluated items.
_SHELL_VERBS = """
list display print show find search locate count delete remove copy move rename archive
compress decompress extract unzip gunzip untar append prepend insert replace kill terminate
install uninstall mount unmount download upload sort split join merge grep execute run go
save redirect recursively change set create make add strip truncate compare check monitor
ping ssh connect format calculate output dump backup sync clone
"""
SHELL_VERBS = frozenset(_SHELL_VERBS.split())
_SHELL_NOUNS = """
file files directory directories folder folders subdirectory subdirectories process
processes pid archive tarball port hostname filesystem symlink symlinks permission
permissions cron crontab stdout stdin stderr shell terminal disk partition sudo
environment inode inodes md5 checksum timestamp screen session
"""
SHELL_NOUNS = frozenset(_SHELL_NOUNS.split())
