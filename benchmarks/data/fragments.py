"""Hand-written prompt fragments for the classification eval set (see generate.py).

Written for this project, not copied from any benchmark. Each list is split by index into a
tuning part and a held-out part before any templating, so held-out prompts share no hand-written
text with the prompts the analyzers were tuned on.
"""

# ruff: noqa: E501
from __future__ import annotations

CODE_ASKS = [
    "write a python function that checks if a string is a palindrome",
    "how do i reverse a list in javascript without mutating it",
    "regex to validate an email address",
    "sql query to get the top 5 customers by total order value",
    "whats the difference between let and var in js",
    "my docker container exits immediately after starting, how do i debug it",
    "Write a bash script that renames all .jpeg files in a folder to .jpg",
    "How can I read a CSV file with pandas and skip the first two rows?",
    "implement binary search in rust",
    "Can you write a React component that shows a countdown timer?",
    "how to make an http request in go with a timeout",
    "Convert this loop to a list comprehension: for x in xs: if x > 0: out.append(x*2)",
    "What does the `yield` keyword do in Python?",
    "git: how do I undo my last commit but keep the changes",
    "write unit tests for a function that parses dates in the format YYYY-MM-DD",
    "Explain what a closure is in JavaScript with an example",
    "how to center a div horizontally and vertically with css",
    "Create a Dockerfile for a Node.js express app",
    "java how to sort a list of objects by a field",
    "Write a C function that counts the set bits in an integer",
    "how do i connect to postgres from python using psycopg",
    "kotlin coroutine vs thread, when to use which? show code",
    "excel formula to sum column B where column A equals 'paid'",
    "write a simple REST API in flask with one GET and one POST endpoint",
    "How do I fix 'permission denied (publickey)' when pushing to github",
    "optimize this SQL: SELECT * FROM orders WHERE YEAR(created_at) = 2023",
    "write a typescript type for a function that takes a callback",
    "how to remove duplicates from an array of objects by id in js",
    "Implement an LRU cache class in Python with get and put in O(1)",
    "what is the time complexity of inserting into a python dict",
    "write a makefile that builds all .c files in src into bin/app",
    "how do i use async await with fetch and handle errors",
    "generate a random password of 16 chars in python",
    "Write a PowerShell script to list all services that are stopped",
    "how to merge two sorted linked lists, c++",
    "pls write me a script that backs up my home folder to an external drive every night",
    "necesito una funcion en python que cuente las palabras de un texto",
    "comment lire un fichier json en javascript ?",
    "wie schreibe ich eine for-schleife in java die rückwärts zählt",
    "write a haskell function to compute fibonacci numbers lazily",
    "How can I profile memory usage of a Python script?",
    "nginx config to proxy /api to localhost:3000",
    "Write a GitHub Actions workflow that runs pytest on every push",
    "how to parse command line args in a node script",
    "swift: how do I decode JSON into a struct",
    "write a function that flattens a nested dict with dotted keys",
    "how to add an index to a column in mysql",
    "my react useEffect runs twice, why",
    "cron expression for every weekday at 9:30",
    "write a pandas one-liner to group by country and average the price column",
]

CODE_SNIPPETS = [
    (
        "python",
        "def average(nums):\n    total = 0\n    for n in nums:\n        total += n\n"
        "    return total / len(nums)\n\nprint(average([]))",
    ),
    (
        "javascript",
        "const users = await fetch('/api/users').then(r => r.json);\n"
        "users.forEach(u => {\n  console.log(u.name);\n});",
    ),
    (
        "java",
        "public class Counter {\n    private int count;\n    public void increment() {\n"
        "        count++;\n    }\n    public int get() { return count; }\n}",
    ),
    (
        "sql",
        "SELECT c.name, COUNT(o.id)\nFROM customers c\nLEFT JOIN orders o ON o.customer_id = c.id\n"
        "WHERE o.status = 'shipped'\nGROUP BY c.name;",
    ),
    (
        "go",
        "func worker(jobs <-chan int, results chan<- int) {\n    for j := range jobs {\n"
        "        results <- j * 2\n    }\n}\n\nfunc main() {\n    jobs := make(chan int)\n"
        "    results := make(chan int)\n    go worker(jobs, results)\n    jobs <- 1\n"
        "    fmt.Println(<-results)\n}",
    ),
    (
        "rust",
        "fn longest(a: &str, b: &str) -> &str {\n    if a.len() > b.len() { a } else { b }\n}",
    ),
    (
        "c",
        "#include <stdio.h>\n#include <string.h>\n\nint main() {\n    char buf[8];\n"
        '    strcpy(buf, "hello world");\n    printf("%s\\n", buf);\n    return 0;\n}',
    ),
    (
        "python",
        "import requests\n\nfor page in range(1, 100):\n    r = requests.get(f'https://x/api?page={page}')\n"
        "    data = r.json()\n    if not data:\n        break\n    save(data)",
    ),
    (
        "typescript",
        "interface User { id: number; name?: string }\n\nfunction greet(u: User) {\n"
        "  return 'Hi ' + u.name.toUpperCase();\n}",
    ),
    (
        "bash",
        "#!/bin/bash\nfor f in $(ls *.txt); do\n  mv $f ${f%.txt}.md\ndone",
    ),
    (
        "python",
        "class Stack:\n    def __init__(self, items=[]):\n        self.items = items\n"
        "    def push(self, x):\n        self.items.append(x)",
    ),
    (
        "css",
        ".card {\n  display: flex;\n  justify-content: center;\n  align-items: center;\n"
        "  height: 100%;\n}\n.card img { width: 100%; }",
    ),
    (
        "javascript",
        "for (var i = 0; i < 3; i++) {\n  setTimeout(function () { console.log(i); }, 100);\n}",
    ),
    (
        "python",
        "df = pd.read_csv('sales.csv')\ndf['month'] = df['date'].dt.month\n"
        "summary = df.groupby('month')['amount'].sum()\nprint(summary)",
    ),
    (
        "c++",
        "std::vector<int> v = {1, 2, 3};\nfor (auto it = v.begin(); it != v.end(); ++it) {\n"
        "    if (*it == 2) v.erase(it);\n}",
    ),
    (
        "yaml",
        'services:\n  web:\n    image: myapp:latest\n    ports:\n      - "80:8080"\n'
        "    depends_on:\n      - db\n  db:\n    image: postgres:16",
    ),
]

CODE_SNIPPET_ASKS = [
    "why does this crash?",
    "what's wrong with this code",
    "can you refactor this to be more idiomatic",
    "this doesnt work, help",
    "explain what this does line by line",
    "add error handling to this",
    "make this faster",
    "convert this to python",
    "write tests for this",
    "is there a bug here? it behaves weirdly sometimes",
    "review this code please",
    "add type hints / comments",
]

TRACEBACKS = [
    'Traceback (most recent call last):\n  File "/app/main.py", line 42, in <module>\n'
    '    run()\n  File "/app/main.py", line 17, in run\n    cfg = load_config(path)\n'
    '  File "/app/config.py", line 8, in load_config\n    return json.load(open(path))\n'
    "FileNotFoundError: [Errno 2] No such file or directory: 'config.json'",
    'Exception in thread "main" java.lang.NullPointerException: Cannot invoke '
    '"String.length()" because "s" is null\n\tat com.acme.App.count(App.java:21)\n'
    "\tat com.acme.App.main(App.java:9)",
    "TypeError: Cannot read properties of undefined (reading 'map')\n"
    "    at ProductList (ProductList.jsx:14:23)\n    at renderWithHooks (react-dom.development.js:14985:18)",
    "thread 'main' panicked at 'index out of bounds: the len is 3 but the index is 5', "
    "src/main.rs:7:13\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
    "panic: runtime error: invalid memory address or nil pointer dereference\n"
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2b3c]\n\n"
    "goroutine 1 [running]:\nmain.(*Server).Start(0x0)\n\t/home/dev/srv/main.go:33 +0x1c",
    "error[E0382]: borrow of moved value: `v`\n --> src/main.rs:5:20\n  |\n3 |     let v = vec![1, 2, 3];\n"
    "  |         - move occurs because `v` has type `Vec<i32>`\n4 |     let w = v;\n"
    "  |             - value moved here",
    "npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree\n"
    "npm ERR! Found: react@18.2.0\nnpm ERR! Could not resolve dependency:\n"
    'npm ERR! peer react@"^16.8.0" from some-widget@1.4.2',
    'psycopg2.errors.UndefinedColumn: column "user_name" does not exist\n'
    "LINE 1: SELECT user_name FROM accounts WHERE id = 4\n               ^",
    'Traceback (most recent call last):\n  File "train.py", line 88, in <module>\n'
    "    loss = model(x, y)\nRuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
    "/usr/bin/ld: main.o: in function `main':\nmain.c:(.text+0x1e): undefined reference to "
    "`sqrt'\ncollect2: error: ld returned 1 exit status",
    "KeyError                                  Traceback (most recent call last)\n"
    "Cell In[12], line 3\n      1 df = load()\n----> 3 df['price'].mean()\nKeyError: 'price'",
    "django.db.utils.OperationalError: no such table: blog_post",
]

TRACEBACK_ASKS = [
    "",
    "getting this error, how do i fix it",
    "what does this mean",
    "help!! app keeps crashing with this",
    "any idea? started after I upgraded",
    "I get this when running the tests:",
]

REASONING_ASKS = [
    "A store sells pencils at 3 for $1.20. How much do 17 pencils cost if they also sell single "
    "pencils at 45 cents each and you want the cheapest combination?",
    "Tom is twice as old as his sister. In 6 years the sum of their ages will be 42. How old is "
    "Tom now?",
    "A tank fills in 6 hours with pipe A and 9 hours with pipe B. How long with both open?",
    "If I invest $5,000 at 4% compounded monthly, how much will I have after 7 years?",
    "solve x^2 - 5x + 6 = 0",
    "Find all real solutions of $\\sqrt{x+3} = x - 3$.",
    "What is the derivative of f(x) = x^3 sin(x)?",
    "Evaluate the integral of 1/(x^2+1) from 0 to 1.",
    "Prove that there are infinitely many prime numbers.",
    "Prove by induction that 1 + 2 + ... + n = n(n+1)/2.",
    "Show that the product of two odd numbers is odd.",
    "how many ways can 5 people sit around a round table",
    "what's the probability of getting at least one six in four rolls of a die",
    "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much "
    "does the ball cost? Explain your reasoning.",
    "There are three boxes, one with apples, one with oranges, one with both. All labels are "
    "wrong. You may take one fruit from one box. How do you relabel them?",
    "Alice says Bob is lying. Bob says Carol is lying. Carol says both Alice and Bob are "
    "lying. Who is telling the truth?",
    "If all bloops are razzies and some razzies are lazzies, are some bloops definitely "
    "lazzies? Explain.",
    "Compare microservices and a monolith for a 5-person startup and recommend one, step by step.",
    "Should I pay off my student loan at 5% or invest in an index fund? Walk through the "
    "trade-offs.",
    "Explain why the sky is blue at noon but red at sunset, reasoning from the physics.",
    "Plan a 3-month study schedule to go from zero to passing the AWS Solutions Architect "
    "exam, with weekly milestones.",
    "What would happen to global trade if the Suez Canal closed for a year? Think it through.",
    "Estimate how many piano tuners there are in Chicago. Show your assumptions.",
    "analyze the pros and cons of a four day work week for a small manufacturing company",
    "A car travels 120 km at 60 km/h and returns at 40 km/h. What is the average speed for "
    "the round trip?",
    "The sum of three consecutive even numbers is 78. What are they?",
    "a rectangle has perimeter 36 and area 80. find its sides",
    "Is 1001 prime? justify",
    "what is the remainder when 2^100 is divided by 7",
    "Let f(n) = n^2 + n + 41. Is f(n) prime for every natural n? Prove or disprove.",
    "If a train leaves at 2:15 pm and travels 210 miles at 70 mph, with a 20-minute stop, when "
    "does it arrive?",
    "Design a fair way to split rent for 3 roommates whose rooms differ in size and one has a "
    "private bathroom. Justify the method.",
    "why do heavier objects not fall faster than lighter ones in a vacuum? derive it",
    "Which is the better deal: 15% off then $10 off, or $10 off then 15% off, on a $80 item?",
    "Decide between renting and buying a home in a city where rent is $2,000 and a similar "
    "home costs $450,000 with 7% mortgage rates. Reason it through.",
    "Three friends split a bill of $87.60. One paid for drinks worth $14.40 separately. How "
    "much does each owe if the rest is split evenly?",
    "Prove that the square root of 3 is irrational.",
    "A farmer has chickens and cows, 30 heads and 74 legs in total. How many cows?",
    "What is the expected number of coin flips to get two heads in a row?",
    "Explain step by step how you would determine whether a sorting algorithm is stable.",
    "An ant walks along the edges of a cube from one corner to the opposite one. How many "
    "shortest paths are there?",
    "sarah has 3 times as many marbles as ben. if sarah gives ben 12 marbles they have the "
    "same amount. how many does each have",
    "given 12 coins one of which is counterfeit and lighter, find it with 3 weighings. how?",
    "Why did the Roman Empire fall? Weigh at least three competing explanations and say which "
    "is most convincing.",
    "What are the ethical implications of using AI for hiring decisions? Argue both sides.",
    "simplify (x^2 - 9)/(x^2 + 6x + 9)",
    "compute the determinant of [[2, 1], [7, 4]] and explain what it means geometrically",
    "cuál es la probabilidad de sacar dos ases seguidos de una baraja de 52 cartas sin reemplazo",
    "Un train part à 8h à 90 km/h, un autre à 9h à 120 km/h. Quand le second rattrape-t-il le "
    "premier ?",
    "if 3 workers build a wall in 12 days how long would 4 workers take, assuming same rate",
    "I have a 3 gallon jug and a 5 gallon jug. How do I measure exactly 4 gallons?",
    "Find the smallest positive integer that leaves remainder 1 when divided by 2, 3, 4, 5 and 6.",
    "Critique this argument: 'Crime rose after the new mayor took office, so her policies "
    "caused the increase.'",
    "What's the optimal strategy in the Monty Hall problem and why?",
    "A company's revenue grew 20% in year one and fell 20% in year two. Is it back where it "
    "started? Show the math.",
]

SIMPLE_ASKS = [
    "hi how are you",
    "hello!",
    "good morning :)",
    "thanks, that helped a lot",
    "what is the capital of australia",
    "who wrote pride and prejudice",
    "When did the Berlin Wall fall?",
    "how tall is mount everest",
    "what's the boiling point of water in fahrenheit",
    "Translate 'where is the train station' into Spanish.",
    "how do you say thank you in japanese",
    "rewrite this to sound more professional: hey, can u send me the file asap",
    "Fix the grammar: me and him goes to the store yesterday",
    "make this shorter: I am writing to let you know that I will not be able to attend the "
    "meeting that is scheduled for tomorrow afternoon.",
    "Tell me a joke about cats",
    "write a haiku about autumn",
    "suggest 5 names for a coffee shop",
    "what does 'ubiquitous' mean",
    "synonym for happy",
    "give me a fun fact",
    "Who painted the Mona Lisa?",
    "what year did the titanic sink",
    "What's the largest planet in our solar system?",
    "recommend a good sci-fi book",
    "write a birthday message for my coworker",
    "how many legs does a spider have",
    "what is the chemical symbol for gold",
    "Is a tomato a fruit or a vegetable?",
    "define photosynthesis in one sentence",
    "whats ur name",
    "can you help me",
    "lol ok",
    "write a tweet announcing our new bakery opening on saturday",
    "What time zone is New York in?",
    "paraphrase: the meeting has been postponed until further notice",
    "quick question - what's the plural of cactus?",
    "bonjour, comment ça va ?",
    "¿cuál es la capital de Canadá?",
    "wie viele einwohner hat berlin",
    "give me a subject line for an email asking for a day off",
    "what's a good name for a golden retriever puppy",
    "write a two line poem about coffee",
    "What is the speed of light?",
    "who is the author of 1984",
    "what language do they speak in brazil",
    "how do you spell necessary",
    "recommend a movie for tonight, something funny",
    "make this sound friendlier: Your request has been denied.",
    "translate to french: I would like a table for two please",
    "What's the opposite of 'generous'?",
    "Say something nice to cheer me up",
    "what is an adjective",
    "how many continents are there",
    "write a caption for a beach photo",
    "what does NASA stand for",
    "good night!",
    "who won the first world cup",
    "Reply to this text politely: 'are you coming to the party or not??'",
    "hey there, whats up",
    "convert 5 miles to km",
]

DOCS = [
    "Minutes of the Facilities Committee, 14 March. Present: J. Alvarez (chair), P. Okafor, "
    "L. Chen, M. Ruiz. The committee reviewed the quote from Northline Roofing for repairs to "
    "the east wing, which came in at $48,200, about 15% above the budgeted amount. P. Okafor "
    "noted that two alternative contractors had declined to bid because of the tight timeline. "
    "After discussion the committee agreed to approve the quote on condition that work begins "
    "before the rainy season and that a fixed-price clause is added. L. Chen reported that the "
    "parking lot lighting upgrade is complete and that energy use for exterior lighting fell by "
    "roughly a third in the first month. M. Ruiz raised complaints from staff about the "
    "temperature in the second-floor meeting rooms; facilities will install two additional "
    "thermostats by the end of April. The next meeting is scheduled for 11 April.",
    "Returns and Refunds Policy. Items purchased online may be returned within 30 days of "
    "delivery for a full refund, provided they are unused and in their original packaging. "
    "Sale items marked 'final sale' cannot be returned. To start a return, customers log into "
    "their account, choose the order and select 'Request return'; a prepaid label is emailed "
    "within one business day. Refunds are issued to the original payment method within 5 to 7 "
    "business days after the warehouse receives the item. Exchanges are not processed directly: "
    "customers should return the item and place a new order. Gift cards are non-refundable. "
    "Customers outside the continental United States pay return shipping, which is deducted "
    "from the refund amount. Damaged or defective items should be reported within 48 hours of "
    "delivery with a photo, and in that case return shipping is always free.",
    "The honeybee colony functions as a superorganism. A single queen lays up to 2,000 eggs a "
    "day during peak season, while thousands of sterile female workers divide labour according "
    "to age: young workers clean cells and feed larvae, middle-aged workers build comb and "
    "guard the entrance, and the oldest workers forage for nectar and pollen, sometimes "
    "travelling several kilometres from the hive. Foragers communicate the location of food "
    "through the waggle dance, in which the angle of the run relative to vertical encodes the "
    "direction relative to the sun and the duration encodes distance. Drones, the male bees, "
    "do not forage; their only role is to mate with queens from other colonies, and they are "
    "expelled from the hive before winter. Colony losses in recent decades have been linked to "
    "parasitic mites, pesticide exposure, poor nutrition and viral disease, usually in "
    "combination rather than from a single cause.",
    "Quarterly update from the CEO. Revenue for the third quarter was $12.4 million, up 18% "
    "year over year, driven mainly by the enterprise tier, which now accounts for 41% of "
    "recurring revenue. Gross margin improved to 71% after we migrated our data pipeline to "
    "reserved capacity. Operating expenses rose 9%, reflecting the 22 hires we made in sales "
    "and customer success. Churn among small-business customers remains our biggest concern: "
    "monthly logo churn was 3.1%, compared with 2.4% a year ago, largely among customers on the "
    "legacy plan that we will retire in January. We ended the quarter with $31 million in cash "
    "and no debt. For the fourth quarter we expect revenue between $13.0 and $13.5 million, and "
    "we will prioritise onboarding improvements aimed at reducing early churn.",
    "Lease Agreement, Section 7 (Maintenance and Repairs). The Tenant shall keep the premises "
    "in clean and sanitary condition and shall promptly notify the Landlord in writing of any "
    "defect or damage. The Landlord is responsible for repairs to the roof, foundation, "
    "plumbing, heating and electrical systems, except where the damage results from the "
    "negligence of the Tenant or the Tenant's guests, in which case the Tenant shall bear the "
    "reasonable cost of repair. The Tenant may not make alterations, including painting or the "
    "installation of fixtures, without prior written consent, which shall not be unreasonably "
    "withheld. In an emergency that threatens health or property, the Landlord may enter the "
    "premises without notice; otherwise the Landlord shall give at least 24 hours' notice "
    "before entry. Appliances supplied by the Landlord are listed in Schedule B and remain the "
    "Landlord's property.",
    "Abstract. We study the effect of a text-message reminder programme on vaccination rates "
    "among adults aged 65 and over in three rural districts. In a randomised trial with 9,412 "
    "participants, individuals received either no message, a generic reminder, or a "
    "personalised reminder naming their local clinic and offering a booking link. Vaccination "
    "within 30 days rose from 21.3% in the control group to 24.0% with generic reminders and "
    "29.8% with personalised reminders. The effect of personalised messages was largest among "
    "participants who had not been vaccinated in the previous season. Cost per additional "
    "vaccination was estimated at $3.40. We discuss limitations, including the reliance on "
    "self-reported mobile numbers and possible spillovers within households.",
    "Hi team, quick recap of yesterday's call with Brightwave. They are happy with the pilot "
    "but want three changes before signing the annual contract: single sign-on through their "
    "Okta tenant, an export of monthly usage reports as CSV, and a named support contact with "
    "a four-hour response time during business hours. Dana thinks SSO can ship by the end of "
    "next month; the CSV export is already on the roadmap for Q2 and could be pulled forward. "
    "The support requirement needs sign-off from Marcus because it changes our staffing plan. "
    "Their procurement team also asked whether we can offer a 10% discount for a two-year "
    "commitment. I told them we would come back by Friday. Please add your comments to the "
    "shared doc by Wednesday so I can send a consolidated answer. Thanks, Priya",
    "The town of Hallstatt sits on the western shore of the Hallstätter See in Austria's "
    "Salzkammergut region. Salt has been mined in the mountain above the village for about "
    "7,000 years, and the prehistoric finds made there gave their name to the Hallstatt "
    "culture of the early Iron Age. Because space between the lake and the steep slopes is so "
    "limited, the local cemetery could not expand, and from the 12th century bones were "
    "exhumed after some years and stored in a charnel house, many skulls painted with names "
    "and floral decorations. The village was reachable only by boat or narrow trail until a "
    "road was built in 1890. Today it receives close to a million visitors a year, which has "
    "prompted the municipality to cap tour-bus arrivals and introduce timed parking.",
    "Onboarding guide: your first week. On day one you will receive your laptop from IT at the "
    "front desk between 9 and 10 am; bring a photo ID. Your manager will schedule a welcome "
    "meeting and introduce you to your onboarding buddy, who is your first point of contact "
    "for informal questions. Complete the security awareness training in the learning portal "
    "within five working days; access to production systems is only granted after it is done. "
    "Expense claims are submitted through the finance app and must include receipts for any "
    "amount over $25. The office is open from 7 am to 8 pm; outside those hours you need to "
    "badge in at the side entrance. Lunch on Fridays is provided by the company. Holidays are "
    "requested in the HR system at least two weeks in advance.",
    "The Marlow X2 cordless vacuum has a claimed runtime of 60 minutes in eco mode, though in "
    "our tests it managed 47 minutes on hard floors and just 11 minutes in boost mode on "
    "carpet. Suction on the standard setting picked up 96% of our test debris from hard floors "
    "and 88% from medium-pile carpet, better than most rivals at this price. The 0.6-litre bin "
    "is easy to empty but fills quickly with pet hair. At 2.9 kg it is slightly heavier than "
    "competitors, which some testers found tiring when cleaning stairs. The wall dock charges "
    "the battery in about four hours. Overall we rate it 4 out of 5: strong cleaning and good "
    "battery life, held back by weight and a small bin.",
    "Support ticket #4471 history. 2 May: customer reports that invoices emailed from the "
    "platform arrive with the wrong company address. Agent confirmed that the billing profile "
    "still shows the old address and asked the customer to update it under Settings > Billing. "
    "4 May: customer replied that they had updated it but the next invoice still showed the "
    "old address. Agent escalated to tier 2. 6 May: tier 2 found that invoice templates cache "
    "the address at the time the subscription was created and do not refresh. A workaround was "
    "applied manually for this account and a bug was filed. 9 May: customer confirmed the "
    "corrected invoice was received and asked for a credit for the inconvenience; a one-month "
    "credit was approved by the team lead.",
    "Chapter 3. Marguerite had not been back to the farm since her father's funeral, and the "
    "lane seemed narrower than she remembered, the hedges grown wild and heavy with "
    "blackberries. Her brother Tomas was waiting at the gate with the dog, older now and grey "
    "around the muzzle, who did not recognise her at first. They walked the fields in silence. "
    "Tomas wanted to sell; the neighbours had made an offer, a fair one, and he was tired of "
    "fighting the bank and the weather. Marguerite wanted to keep the orchard at least, the "
    "trees their grandmother had planted, though she could not say what she would do with it "
    "from the city. That night they found the old ledgers in the attic, and in them a letter "
    "that changed what both of them believed about their father.",
]

DOC_QUESTIONS = [
    "Based on the text above, what are the main decisions that were made?",
    "summarize this",
    "Summarize the key points in 3 bullets.",
    "tl;dr?",
    "what does it say about costs or money?",
    "According to the passage, what is the biggest problem mentioned?",
    "Extract all the numbers and dates mentioned and what they refer to.",
    "Who is responsible for what, according to this?",
    "Can you give me a short summary of the article for my boss",
    "What is the main point of the text?",
    "does the document mention any deadlines? list them",
    "Using only the information above, answer: what happens next?",
    "what are the takeaways here",
    "explain this to me like im 12",
    "Write a one-paragraph summary of the above.",
    "resume este texto en español",
    "fais-moi un résumé de ce texte",
    "Is there anything in the text about exceptions or conditions?",
    "What is the author's conclusion?",
    "pull out any action items",
]

SQUAD_QUESTIONS = [
    "What was decided?",
    "Which figure is mentioned first?",
    "Who is named in the passage?",
    "What is the main subject of the passage?",
    "What limitation or problem is described?",
    "How long does the process take?",
]

RAG_SYSTEMS = [
    "You are a support assistant. Answer the user's question using only the documents "
    "below. If the answer is not in the documents, say you don't know.\n\nDocuments:\n",
    "Use the following context to answer. Cite the relevant sentence.\n\nContext:\n",
]

MULTITURN_CODE = [
    [
        ("user", "I'm building a CLI in python that downloads files."),
        ("assistant", "Sounds good. What library are you using for HTTP requests?"),
        ("user", "requests. how do I show a progress bar while downloading?"),
    ],
    [
        ("user", "```js\nfunction add(a, b) { return a + b }\n```"),
        ("assistant", "This function adds two numbers. What would you like to do with it?"),
        ("user", "make it work with any number of arguments"),
    ],
    [
        ("user", "what's the best way to store passwords in a database"),
        ("assistant", "Use a slow, salted hash like bcrypt, scrypt or Argon2, never plain text."),
        ("user", "ok show me how with argon2 in node"),
    ],
    [
        ("user", "my flask app returns 500 on POST /login"),
        ("assistant", "Can you share the traceback from the server log?"),
        (
            "user",
            'Traceback (most recent call last):\n  File "app.py", line 30, in login\n'
            "    user = User.query.filter_by(email=request.form['email']).first()\n"
            "KeyError: 'email'",
        ),
    ],
    [
        ("user", "i need a script to resize images"),
        ("assistant", "Sure. Which language and what size should they be?"),
        ("user", "python, max 1024px on the long side, keep aspect ratio"),
    ],
    [
        ("user", "Explain the difference between a process and a thread."),
        ("assistant", "A process has its own memory space; threads share the memory of a process."),
        (
            "user",
            "ok now write a java example that starts two threads incrementing a counter safely",
        ),
    ],
]

MULTITURN_REASONING = [
    [
        ("user", "I have a math question"),
        ("assistant", "Sure, go ahead."),
        ("user", "if the sum of two numbers is 20 and their product is 96, what are the numbers?"),
    ],
    [
        ("user", "We're deciding between two job offers."),
        ("assistant", "Happy to help. What are the offers?"),
        (
            "user",
            "A pays 95k with a 40 min commute, B pays 82k fully remote with better equity. "
            "Walk me through how to compare them step by step.",
        ),
    ],
    [
        ("user", "what is 15% of 240"),
        ("assistant", "15% of 240 is 36."),
        ("user", "and if the price goes up 15% then down 15%, is it back at 240? why not?"),
    ],
    [
        ("user", "Here's a riddle for you."),
        ("assistant", "I love riddles, go on."),
        (
            "user",
            "A man looks at a portrait and says 'Brothers and sisters I have none, but that "
            "man's father is my father's son.' Who is in the portrait? Explain.",
        ),
    ],
    [
        ("user", "can u help with my stats homework"),
        ("assistant", "Of course. What's the problem?"),
        (
            "user",
            "a test is 99% accurate and 1% of people have the disease. if i test positive what's the chance i have it",
        ),
    ],
]

MULTITURN_SIMPLE = [
    [
        ("user", "hey"),
        ("assistant", "Hi! How can I help you today?"),
        ("user", "whats the capital of peru"),
    ],
    [
        ("user", "Who wrote The Hobbit?"),
        ("assistant", "J. R. R. Tolkien wrote The Hobbit, published in 1937."),
        ("user", "cool thanks!"),
    ],
    [
        ("user", "translate 'good luck' to italian"),
        ("assistant", "'Buona fortuna.'"),
        ("user", "and to german?"),
    ],
    [
        ("user", "give me a name for my cat"),
        ("assistant", "How about Miso?"),
        ("user", "something more fancy"),
    ],
    [
        ("user", "what's the weather usually like in lisbon in may"),
        ("assistant", "Mild and mostly sunny, around 20-24°C in the day."),
        ("user", "nice, and is it good for swimming?"),
    ],
]

LONG_CODE_FILES = [
    "import os\nimport sys\nimport json\nfrom dataclasses import dataclass\n\n\n@dataclass\n"
    "class Job:\n    name: str\n    retries: int = 3\n\n\ndef load_jobs(path):\n"
    "    with open(path) as f:\n        raw = json.load(f)\n    return [Job(**j) for j in raw]\n\n\n"
    "def run(job):\n    for attempt in range(job.retries):\n        try:\n"
    "            os.system(job.name)\n            return True\n        except Exception as e:\n"
    "            print('failed', e)\n    return False\n\n\ndef main():\n    jobs = load_jobs(sys.argv[1])\n"
    "    failed = [j for j in jobs if not run(j)]\n    if failed:\n        sys.exit(1)\n\n\n"
    "if __name__ == '__main__':\n    main()\n",
    'package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\t"sync"\n)\n\ntype Cache struct {\n'
    "\tmu   sync.Mutex\n\tdata map[string]string\n}\n\nfunc (c *Cache) Get(k string) (string, bool) {\n"
    "\tv, ok := c.data[k]\n\treturn v, ok\n}\n\nfunc (c *Cache) Set(k, v string) {\n\tc.mu.Lock()\n"
    "\tdefer c.mu.Unlock()\n\tc.data[k] = v\n}\n\nfunc handler(c *Cache) http.HandlerFunc {\n"
    '\treturn func(w http.ResponseWriter, r *http.Request) {\n\t\tk := r.URL.Query().Get("k")\n'
    "\t\tif v, ok := c.Get(k); ok {\n\t\t\tfmt.Fprint(w, v)\n\t\t\treturn\n\t\t}\n"
    "\t\thttp.NotFound(w, r)\n\t}\n}\n\nfunc main() {\n\tc := &Cache{data: map[string]string{}}\n"
    '\thttp.HandleFunc("/", handler(c))\n\thttp.ListenAndServe(":8080", nil)\n}\n',
    "import React, { useState, useEffect } from 'react';\n\nexport default function Search({ api }) {\n"
    "  const [q, setQ] = useState('');\n  const [results, setResults] = useState([]);\n\n"
    "  useEffect(() => {\n    if (!q) return;\n    fetch(`${api}/search?q=${q}`)\n"
    "      .then(r => r.json())\n      .then(setResults);\n  }, [q]);\n\n  return (\n    <div>\n"
    "      <input value={q} onChange={e => setQ(e.target.value)} />\n      <ul>\n"
    "        {results.map(r => <li>{r.title}</li>)}\n      </ul>\n    </div>\n  );\n}\n",
]

LONG_CODE_ASKS = [
    "Review this file and point out bugs and race conditions.",
    "add logging and proper error handling to this",
    "can you write unit tests for this module",
    "refactor this, it's getting messy",
]

LONG_MATH = [
    "Problem 1. A sequence is defined by a_1 = 2 and a_(n+1) = 3a_n - 1 for n >= 1. "
    "(a) Compute the first five terms. (b) Find a closed form for a_n. (c) Prove your closed "
    "form by induction. (d) Determine the smallest n for which a_n exceeds 10,000. "
    "Problem 2. Let S be the set of all positive integers whose digits sum to 10 and which "
    "have at most three digits. How many elements does S have? Justify the count carefully, "
    "considering numbers with one, two and three digits separately, and explain how you "
    "avoided double counting.",
    "A warehouse ships two products. Product A needs 2 hours of assembly and 1 hour of "
    "packaging per unit and earns $30 profit; product B needs 1 hour of assembly and 3 hours "
    "of packaging and earns $40 profit. Each week there are at most 100 assembly hours and 90 "
    "packaging hours, and contracts require at least 10 units of B. Set up the linear program, "
    "sketch the feasible region, find its vertices and determine the production plan that "
    "maximises weekly profit. Then explain how the answer changes if packaging capacity rises "
    "to 120 hours, and whether it would be worth paying $5 per extra packaging hour.",
]

REASONING_ASKS += [
    "A shop marks up goods by 40% and then offers a 25% discount. What is the overall profit "
    "percentage?",
    "How many trailing zeros does 100! have? explain how you count them",
    "If the probability of rain on each of the next three days is 0.3, independently, what is "
    "the probability it rains on exactly two of them?",
    "we have 8 identical balls, one is heavier. what's the minimum number of weighings on a "
    "balance scale to find it and how",
    "Is it better for a small bakery to raise prices by 10% or cut costs by 10%? Analyze the "
    "impact on profit with an example.",
    "Find the area of a triangle with sides 13, 14 and 15.",
    "Two trains 300 km apart head toward each other at 70 and 80 km/h. A bird flies between "
    "them at 100 km/h until they meet. How far does the bird fly?",
    "Explain the causes of inflation in 2022 and evaluate which factor mattered most.",
    "what is the sum of all integers from 1 to 1000 that are divisible by 3 or 5",
    "Show that for any integer n, n^3 - n is divisible by 6.",
    "My team has 4 projects and 3 engineers. Help me reason about how to prioritise them "
    "given deadlines, risk and value. Think carefully.",
    "solve the system: 2x + 3y = 12, x - y = 1",
    "A population of bacteria doubles every 3 hours. Starting from 500, when will it exceed "
    "1 million?",
    "In a group of 23 people, what's the chance two share a birthday? Derive it.",
    "If it takes 5 machines 5 minutes to make 5 widgets, how long would 100 machines take to "
    "make 100 widgets?",
    "What's the flaw in this proof that 1 = 2: let a = b, then a^2 = ab, a^2 - b^2 = ab - b^2, "
    "(a+b)(a-b) = b(a-b), a+b = b, 2b = b, 2 = 1.",
    "Which grows faster, n log n or n^1.1? Prove it.",
    "ok so i earn 3200 a month, rent is 1100, and i want to save 15k in 18 months. is that "
    "realistic? work it out",
]

SIMPLE_ASKS += [
    "what is the population of japan",
    "who invented the telephone",
    "make this more polite: send me the report now",
    "correct the spelling: definately recieve seperate",
    "write a short thank you note to my neighbour for watching my dog",
    "is it going to be cold in november in toronto usually",
    "what's the difference between 'affect' and 'effect'",
    "tell me something funny",
    "what colour do you get mixing blue and yellow",
    "how many ounces in a pound",
    "come up with a slogan for a bike shop",
    "give me 3 ideas for a team lunch",
    "whats the meaning of the word 'serendipity'",
    "Which ocean is the largest?",
    "ciao! come stai?",
    "Rewrite in plain English: The aforementioned party shall remit payment forthwith.",
    "who is the current secretary general of the un",
    "write a short out-of-office message",
    "how do i boil an egg",
    "name three primary colors",
]

DOCS += [
    "Rate limits. Each API key may make up to 600 requests per minute across all endpoints. "
    "Requests beyond this limit receive HTTP status 429 with a Retry-After header giving the "
    "number of seconds to wait. Batch endpoints count each item in the batch as one request. "
    "Keys on the Enterprise plan may request a higher limit by contacting support; increases "
    "are reviewed within two business days. Webhook deliveries do not count toward the limit. "
    "If a key exceeds the limit repeatedly within an hour, it is temporarily suspended for "
    "fifteen minutes and the account owner is notified by email. Sandbox keys are limited to "
    "60 requests per minute and their data is deleted after 30 days of inactivity.",
    "Patient information leaflet. Take one tablet twice a day with food, preferably at the "
    "same times each day. Do not take more than four tablets in 24 hours. If you miss a dose, "
    "take it as soon as you remember unless it is nearly time for the next one; do not take a "
    "double dose. Common side effects include mild headache, nausea and dizziness, which "
    "usually pass within the first week. Stop taking the medicine and seek medical help "
    "immediately if you notice swelling of the face or throat or difficulty breathing. Avoid "
    "alcohol during treatment. Tell your doctor if you are pregnant, breastfeeding or taking "
    "blood thinners. Store below 25°C and keep out of the reach of children.",
]

DOC_QUESTIONS += [
    "given the document, is the following true: the process takes less than a week?",
    "what are the conditions mentioned in this",
    "list every person or organisation named in the text and their role",
    "Answer from the text: what should someone do first?",
    "what's the gist",
    "Write three quiz questions based on this passage.",
]
