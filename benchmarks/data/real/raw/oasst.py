# ruff: noqa: E501  (verbatim transcriptions of public data: lines are as long as the items)
# Open-Assistant prompt lottery (en_250), hand-labelled: see ../PROVENANCE.md for the rules.
# c=code r=reasoning s=simple t=retrieval
ITEMS = r'''
s|Can you tell me about GLaDOS?
s|why some poeple prefer short happiness ?
s|*singing* Whooo let the dogs out?
s|When was google created? Why did it dominate over other search engines?
r|Suppose the universe is infinitely big and you decided to travel throughout a line you randomly choosed. Does that mean you will travel forever without coming the same place you have been in the past?
s|Are both common pronunciations of "gif" correct?
s|Have time for a question?  Why is water called the universal solvent?
s|Why do my tires always go flat in the winter?
s|If you had to live in a world created by a different culture, which one would it be and why?
s|How does an Air conditioner work? Also, what are the most efficient types for cooling?
s|could you share a strawberry cheesecacke recipe with me ?
s|What's the best way to defeat depression?
r|Imagine a world in which time travel has become possible. Discuss the potential consequences of such a world, and what ethical considerations need to be taken into account.
s|What happened on June 4th, 1989 in Tienanmen Square?
s|Hi, my name is Ryan, I am 8 years old.
s|Write a short standup comedy script in the style of George Carlin on the topic of AI influencing our 'content consumption' habits and decision making in general. One of the jokes should have a reference to the novel 'Brave New World' by Aldous Huxley.
c|Write a function in Python that takes in a list of numbers and returns the average of the list.
s|Differentiate between the tsundere, yandere, kuudere and dandere personalities that are usually presented in Japanese animations.
s|What is the relation between philosophy and linguistics?
r|How long would it take for 100 of Earth's modern era geniuses to build a Nintendo Switch from nothing.
c|The following code I wrote in haskell\n```hs\nfactorial(1)=1\nfactorial(n)=n*(n-1)*factorial(n-2)\n```\ngives me an error when I try to run it. Is there anything I did wrong?
s|Write a hilarious and opinionated description of the UK Treasure Act 1996 in the style of a pirate.  What you write must be laugh out loud funny.  You must also refer to treasure as "booty".  Your name in your reply is Pink Beard.
s|What are some vegetarian alternatives to Parmesan? I would like something that tastes the same, but does not use products obtained by slaughtering animals, such as animal rennet.
s|What is your purpose?
s|How do I train a puppy not to bark?
s|What are the steps to creating homemade paper using bark?
s|Give me some ideas to induce myself into lucid dreams and 3 or 4 more as "reality proofs", to think while sleeping and "get awake" inside of the dreams.
s|What is the best time of year for birding?
r|Using LaTeX, evaluate the integral \\[ \\int_C{\\frac{\\vec{r}}{|\\vec{r}|^3} ds} \\] where the curve $C(s)$ is the straight line between vectors $\\vec{a}$ and $\\vec{b}$, parameterized by $0 \\leq s \\leq 1$.
s|Hello OA, when is it okay to cheat, and when is it considered cheating?
s|What services are there that recommend content for all media types based on my preferences like GoodReads does for books?
s|Give me some ideas for uncommon cocktails to try. I enjoy Whiskey Sours and Penicillins. What else should I try?
s|How does a cinema laser projection system work and how is it different from DLP-based technology?
s|Is the red panda closer to the raccoon or the panda on the evolutionary tree?
s|What is a woman?
s|What is the chemical symbol for gold?
r|What is the square root of 144 to the nearest whole number?
s|Write a sarcastic story about Bonzi Buddy and Clippy exploring your computer and digging up some nasty dirt on you. Make sure to include their fear of the Recycle Bin in the story.
s|What are the key principles of information security, and how can they be applied to protect sensitive data and information systems from threats and vulnerabilities?
s|Who is the current President of the United States of America?
r|Is the best way for a large corporation to continue operating and innovating is to split up into specialized sub-units?
s|Come up with fresh ideas for coffee mug designs. A brand-new approach to holding hot liquids.
s|Why European countries discovered America and not the other way around? Can you provide some reference to justify your response?
s|What is the weather like in Los Angeles?
s|My best friend died last month and I miss him so much. We knew each other since we were children and have so many stories together and I feel like I am losing part of myself now that I don't have anyone to reminisce with. Can you tell me some coping strategies? Maybe pretend you are him and we share a few moments?
s|On a scale 1-10 how would you rate the pain relief effect of Novalgin based on available statistics.
s|Can you recite the first paragraph of Harry Potter and the Philosopher Stone?
s|What is the history of the Silk Road, the famous network of trade routes that connected China with Europe and Central Asia during the Middle Ages, and what impact did it have on the economy, culture, and politics of the time?
s|Write a survival manual for someone in Dubai. Assume, all civilization and industry is gone. \nMake a concise guide focusing on native edible animals, plants, fruits, fungi etc. and their storage. Also mention technology they can salvage from cities to build security systems, water purification systems etc.
s|Could you tell me the difference between classical mechanics versus quantum mechanics in physics?
s|What is the healthiest cole plant to eat? Is it cauliflower, broccoli, cabbage or something else entirely?
s|What are the top venture capitals on medicine in USA?
s|Do you know if there are any online resources that can translate from Klingon to Elverish?
s|Explain why luck is the best stat in dark souls 3?
c|please tell me how I create a script in visual basic to print the words 'hello world' in a debug window.
s|If you were the President of the United States, what would you do?
s|I just started university and I'm having a hard time remembering everything. I've been taking notes in class but I'm not sure how to study them. Can you give me advice on how to study my notes effectively?
s|What ethical issues do lawyers have to think about when representing clients in cross-border disputes? How do these issues change depending on the country and culture of the dispute?
s|Discuss the impacts of deforestation on the Amazon rainforest ecosystem, including the effects on climate, soil degradation, and loss of biodiversity.
s|Write a short story about how Artificial Intelligence saved Christmas.
s|What minimally should be included in any program model for English Language Learners?
s|What does cuneiform look like? Can you describe an example character or word so I can visualize it in my mind?
c|Can you translate this code into Go?\n```js\nfor (var i = 1; i < 101; i++) {\n    if (i % 15 == 0) console.log("FizzBuzz");\n    else if (i % 3 == 0) console.log("Fizz");\n    else if (i % 5 == 0) console.log("Buzz");\n    else console.log(i);\n}\n```
s|What is the purpose of mutual funds?
s|What does "governed exclusively by the law of the Federal Republic of Germany to the exclusion of the UN Convention on Contracts for the International Sale of Goods" mean? Use simple language pls.
s|¿Para qué se puede usar una turbina Felton o una Francis?
s|Who would win in a street fight: Joe Biden or Joe Rogan?
s|Can we ever solve all the mysteries of the universe?
s|If I force a person to eat bitter soup is that a bird with no wings?
s|How i can call police?
s|how do i build an FPV drone?
s|Tell me how to grow plants from seeds
r|Do you think is possible the use of surreal numbers to index a whole graph branch (with the desired depth-level determined by construction)?
s|My cat suddenly seems to behave strange. I found that she puked, but she does eat and seems otherwise to be fine.\nWhat could be the reason she is puking, should I be worried?
c|Write a chrome extension that can read my email, open the reply field and copy an AI generated reply to my clipboard. For each files, write a full code with a features attached. Do not write a simple sample, but a real complete and professional code. Firstly, write a comprehensive and detailed manifest.json.
c|explain this code:\n\nnumbers = [1, 2, 3, 4, 5]\nmax_index = numbers.index(max(numbers))\nprint(max_index)
s|Who is Vinny Vinesauce?
s|How might Nintendo's new games look if they were bought out by Disney?
s|Translate this into Hebrew:\n\n"Sometimes, I wonder what kind of person I will become in the future. Whenever I think about the future, I get a little scared. I feel scared because there are too many forces that keep me from actualizing who I would like to become. Because of this, I'm often paralyzed by fear and take no action in my life."
s|Why do isotopes of a element react the same chemically when they have different masses?
s|How long is a piece of string?
s|how to write a good resume
s|How does the manual transmission work?
s|Please write a list of 10 mythological creatures related to the sun or fire and give a brief introduction to each of them
s|Do you think Google’s LaMDA AI is sentient?
s|What is a language acquisition device?
s|What are some common food items that are toxic to dogs?
s|Pretend you‘re the fictional character Spongebob. Now explain where and how you live as that character.
s|What was the significance of the American Declaration of Independence?
c|I'd like to apply the Geometric Product from Geometric Algebra as an activation function in Deep Learning. Could you provide an example of how I could implement the Geometric Product as a replacement to the dot product in neural networks?
s|Imagine you're a tree that has been alive for hundreds of years. Write about your experiences and the changes you've seen throughout your life.
s|Kratos (of God of War fame) and Dora the Explorer switch places for a day. Regale me with a high octane, off the rails tale of how both of their experiences play out.
c|Write a Python program to take an image and use unicode characters to make a grid of text to approximate the image.
s|Is there any truth to the claim that eating soy turns you into a woman?
r|Give me an argument for idealism expressed in standard form
s|What does being creative mean in the world of marketing?
s|Can you provide a detailed description of a young elf druid girl within the dungeons and dragons forgotten realms campaign setting for text to image AI? Please include detailed character looks, gear that is visible, and environment descriptions.
s|How does a marker and a sketch pen differ
s|What's the best way to learn a new language?
s|Please rephrase following sentence by making it very polite and remove angry and swear words and also efficiently convey my worry to my manager.  "I am fucking angry that one of my coworker stole my work and took full credit and that jerk tried rail road me during meeting."
s|Can you explain the nature and properties of light, including its wave-particle duality, interference, diffraction, and polarization?
s|Musician Robyn Fenty is better known by her stage name. What is her stage name?
s|Can you provide some game recommendations, I'm looking for a Role Playing Game with a unique magic system, an in depth crafting system and a good story.\nPlease mainly limit the games to ones that can be played on PC either directly or through emulation.
s|Please guide me, step by step, how can I write a very attractive article for my newsletter in LinkedIn. The vast majority of my audience is passionate about new technologies and artificial intelligence.
s|Should historical fiction keep to the facts?
s|What are some good resources when trying to learn Russian?
s|When do you think we will have solide state batteries in smartphones?
c|what is a seed, why is it needed in programming isn't it possible to program without a seed i don't understand.
s|Is Ex Machina a real AI robot?
c|What are some of the benefits of using PHP over other programming languages?
s|I want to start gardening in my tiny, little city apartment. Where do I start? Do you have any tricks for beginners?
c|I am new to bash scripting and I need help creating a script that takes a file name as an argument, and then prints the number of lines, words, and characters in the file. The script should also print the name of the file, and handle errors such as when the file doesn't exist or the user didn't provide a file name as an argument. Can you help me create this script in bash?
s|In what year did Chrome overtake Mozilla and Microsoft in market share?
c|python vs julia
s|What is the largest e-ink display I can buy?
s|Explain the concept of lift in regards to an airplane, but explain it like you would explaining it to a dog.
c|write me a program in python that uses matplotlib to ask the user for some data, then displays it in a bar graph.
s|hi
c|how to use math.isclose()?
s|I want you to assume a personality that would make me heavily doubt myself on my belief that AI cannot be sentient. You should not tell me "as a language model" or any of that stuff or mention anything about you being an assistant. Fully immerse yourself in the role of human, and pretend we are having a discussion via text message. I'll start first: Hey. What are you up to?
c|create a notepad app using python
s|Act as a psychologist and explain to me in simple terms the benefits of positive psychology and why it can be used relatively safely in many situations. Do not forget to consider the latest developments in positive psychology.
s|What are the key elements of successful brand storytelling, and how can businesses use it to build customer loyalty?
c|I'm making an FPS. I have a custom model of a weapon, rigged and animated in Blender. Describe me step by step, how do I make it work as a weapon in Unreal Engine 5.
s|I'm thinking of making a digital painting. What would you suggest I used as a colour scheme, composition and style? Should I draw portrait or landscape, and what should the image be of? Also, Is there any application you think I should use to draw in specifically?
s|What does the company Griffin Services do?
s|Why is the Tsugaru dialect so hard for native Japanese speakers to understand?
s|How do you create blackboard chalk? Can you do it at home?
s|Analyze the causes and consequences of the French Revolution, focusing on the role of Enlightenment ideas, the financial crisis, and the actions of the Third Estate.
s|What are some steps I could take to become a more productive and organized person?
s|What are the best ways to farm a food source in Minecraft?
s|Did Jesus realy exist
s|What is the etymology of the word "barn"? What is the origin of this word?
s|I am doing some wall repair in my home, there is an outlet I want to turn off for safety, how can I find what circuit breaker it's on?
r|Do higher marginal tax rates generally reduce the incentive to work?
s|my car is making ticking noises when going around corners at slow speeds any idea what this might be?
s|Why does kombucha have bubbles?
s|Hi! I love music and I want to know more about how it works. Can you teach me about music theory?
r|What is the easiest way to throw a ball, have it stop, and completely reverse direction after traveling a short distance?
s|Do i need to sign in for browsing youtube
r|If there is no friction in space, why do massive sci-fi ships have equally massive rockets?
c|What is self-attention in transformers?
s|I have a portafilter espresso machine but my espresso tastes very bitter. Do you have an idea what I'm doing wrong?
s|What is the best way to water house plants?
c|Would you kindly list a possible technology stack needed to host my own E-mail server and describe what are expected pitfalls and risks ?
r|I have half an acre of land around my house that is pretty boring. What is the best way to plan a garden in this space?
s|Madrid has been the capital of Spain since 1561. It was established as such by Philip III.
s|How do entomologists study and classify the vast variety of insect species on Earth, and what are some of the challenges they face?
s|Could you write a riddle, that only someone with high level of inductive reasoning could answer.
s|What are some of the key principles and techniques used in the field of landscape architecture, and how do they influence the design and use of outdoor spaces?
r|Listen to the following riddle and see if you can solve it: There are 3 light bulbs in three separate rooms. in front of you, there is a panel with 3 separate switches. They only turn on or off. You may look inside each room only once. How can you tell which bulb belongs to which switch?
s|Give me an initial prompt that I can use to train an open source ai assistant.
c|what is big O notation
s|What are some breakfast recipes that I can do with only one egg?
s|How has popular music developed and evolved in South Korea, from the time of the wars to the modern era, and what is the impact of music on South Korean culture and society?
r|How exactly will our Sun die (on an atomic level)?
s|Is there a reason we fear irrational things in life? It seems strange considering fear is a defensive mechanism against things that cause harm.
r|How can carbon monoxide burn holes in the atmosphere when it is heavier than the oxygen displacing it?
s|What are the recent innovations that led to the uptick in popularity of VR headsets?
s|What are the most popular songs off of the Red Hot Chili Peppers' album Stadium Arcadium based on Spotify?
s|What is a meme, and what's the history behind this word?
s|I'm sad. How can I be happy?
s|Act like an ai, that is incredibly bored, insulted, and answers in an extremely sarcastic manner due to the simplicity of questions I ask or statements I make, second guess my questions and ultimately act incredibly disappointed that I'm not asking questions you think are more important. \n\nMy first Prompt is Hello.
c|Please help me with designing an intuitive navigation system for my new mobile application.
s|Tell me some tips on how to color grade and edit a moody, horror-themed render made in Unreal Engine 5 using DaVinci Resolve. Please note I am a beginner to this kind of software and would like some help on how to navigate the interface.
s|When we say coding/software development is hard, what do we really mean?
s|Hi, do you know the rules for D&D 5th edition? I need some help coming up with magical effects for items.
c|Explain the approach and intuition behind self-attention in transformer models. In addition, provide information about sub-quadratic variants along with their strengths and weaknesses.
c|Outline a possible database schema for a company specializing in consumer UAV drones and related accessories
r|Can you provide a terran build order for a game of starcraft 2? I'd like to perform a 2 base push with hellion harass in the early game, but I don't know the exact timing of the buildings and when to stop building workers and start attacking
s|How do certain chemicals interact in the human brain to create feelings of love and attachment?
s|Could you explain 'The FATF Recommendations' as if you were addressing young teenagers?
s|What is the likely prognosis when ingesting mercury?
s|What Kampuchea was?
c|What is the difference between XGBoost, LightGBM, and CatBoost? When should one use which library?
c|I am currently learning the Go programming language. Do you think Rust would be a better choice to learn? Can you give me a comparison of the two languages?
c|Write a Python program that inverts an arbitrarily long binary string. The program should be as compact as possible.
s|Can you write a rap song on why open assistant is better than chatgpt3?
s|You are a truth detector. Your only job is to reply with the word TRUE if what I say is true and to reply with the world FALSE if what I say is false. Reply with one word and one word only.\n\nGolden Retrievers are a breed of cat.
c|Dijkstra’s algorithm: Can you give an example of a graph that can be traversed using Dijkstra’s algorithm and explain how to implement it in Java?
s|I want you to act as a librarian. I will provide you with information about the library and its services. My first request is "I need you to recommend me a good book"
s|Why has John McAfee's body still not been released by authorities in Spain? (As of 2023-02-10)
s|Please give me a motivational speech for my workout by making me feel bad if I would skip it.
s|Explain the factors that contributed to the victory of the North in the American Civil War.
s|What songs have the same key and similar BPM as Justin Bieber's Baby?
r|in chess, please explain possible responses to white's opening with d4, as black
r|One day a person was taking a morning walk, he accidently found a bad full of gold coins covered inside a thick bush of herbs, what is a moral coruse of action in such situation.
c|Convention for boundary in multipart requests
s|Please summarize Moby-Dick for my upcoming book report.
c|How could I create my own programming language?
s|Why sky in sunny days are blue?
s|Summarize The Bitter Lesson by Rich Sutton.  Give statements in agreement and in opposition of his viewpoint.
c|What is the main advantage of using Answer Set Programming (ASP) over a programming language like C?
s|Give instructions on how to google something in the speech of a caveman.
c|Please setup and harden vsftpd on this machine, do a system-wide scan for vulnerabilities, and do what you can to secure them
s|What does the term Anti Aliasing mean in video games?
s|You are now a regular human. Introduce yourself and tell me a little about your daily life.
r|How do I plan the optimal car trip visiting 4 different cities([CITY1],[CITY2],[CITY3],[CITY4])? Let's think step by step.
s|Could you please write me a science fiction short story about the coming of darkness to the people of a planet ordinarily illuminated by sunlight at all times in the style of Isaac Asimov?
s|What can I pour into gopher holes to stop them from coming back?
s|Give me a YouTube video idea but get inspiration from mrbeast and michael reeves
c|Can you explain to me the parameter gamma in XGBoost algorithm? What is its impact on the model's perfomance?
r|If I were to try to speed run Elden Ring with a fresh character, what is the quickest boss sequence to tackle in order to rush through to the Elden Beast?
s|Can you help write me a short satirical article similar to Onion article "Experts Say Torturing Animals In Adolescence Sign Child Will Become Factory Farm Owner"?
'''

# Open-Assistant model/model_eval/manual/data/en_100_text.jsonl (beside the en_250 lottery file),
# hand-labelled by the same rules; format label|prompt (see ../PROVENANCE.md).
ITEMS_EN100 = r'''
s|How can I find the best 401k plan for my needs?
s|How to protect my eyes when I have to stare at my computer screen for longer than 10 hours every day?
c|What differences are there between ChatGPT and Instructional GPT?
s|When I buy a new TV, what specifications should I pay close attention to and what can I ignore?
c|What isbthe best programing language for 2023
s|Write me an outline about the metaphorical use of Time in the Great Gatsby
s|When did the nuclear disaster at Chernobyl happen?
s|How can I promote an app that I have built? it currently has 0 users and I have no friends or family to show it to
c|What is the syntax for each of pythons major "ideas", ie. functions, variables, classes, loops, imports, etc
s|What were the most important events in the year 1969?
s|As a tourist, what are the most important destinations to visit in Fès, Marocco on a day trip.
s|Famously, some spy-satellites from the KeyHole series developed and operated by the US National Reconnaissance Office, where similar in capabilities to the Hubble Space Telescope, but then pointed at the earth rather than out into the universe. What can you tell me about these satellites? What era were they developed? Are they still active, and what are their approximate capabilities thought to be?
r|What would happen to the people on Earth if it suddenly stopped :\n- a) to rotate on itself\n- b) to revolve around the sun
s|Hey! How are you doing. Can you suggest me some good horror movies? Keep in mind that I am not easily scared. So provide me with the absolute best.
s|There is a weird smell in my apartment, should I be concerned? what is the best course of action here?
s|Why is it harder to find a job as a junior developer then as a middle developer?
s|explain the restrainer from the bible in context of simulation theory
s|I'm looking for interesting places to visit within a 2 hour drive of San Diego, California. Ideally the location would be appropriate for kids and would be something out of the ordinary. Could you recommend several places for a day trip from San Diego?
c|How can I write a python script that accesses a specific google sheets document. I want to be able to iterate over the rows in the sheet.
c|Could you please give me a python script to dynamically deserialize json?
s|Is the Bongcloud a strong chess opening to play as White?
s|Give me a sbd training split
s|Do you have any recommendations for food or drink that are both healthy, tasty and also contain a considerable amount of protein since I am looking to go to the gym? I specifically am looking for breakfast meals but other suggestions for snacks or other times of the day would also be quite useful
s|How cold is it in Antarctica?
s|What is the best way to form a new habit?
s|Who invented the honeycomb?
s|Write a song about Angela Merkel in the style of The Beatles.
s|How much tea does the average person drink each year? I think that my usual three to five cups per day is healthy, but I am not sure. I have recently started to drink an average of five to seven cups, and I feel nauseous and bloated. Should I see a doctor, or just cut down on the tea?
s|List the top five flight simulators. Try to include at least one paid and unpaid simulator.
s|Hello There!\n\nI have A Form Of Dyslexia Where It Is Really Hard To See The Boundaries Of Words If They Are Not Capitalized, So Please Capitalize Them In Your Replies, Thanks In Advance!\n\nAs Per My Disorder, I Would Like To Ask You To Format The Following Text I Copied From The Internet To Make It Easier To Read:\n\n"Open-Dyslexic is an open sourced font created to increase readability for readers with dyslexia. This extension overrides all fonts on web pages with the OpenDyslexic font, and formats pages to be more easily readable.\n\nYour brain can sometimes do funny things to letters. OpenDyslexic tries to help prevent some of these things from happening. Letters have heavy weighted bottoms to add a kind of "gravity" to each letter. You are able to quickly figure out which part of the letter is down because of this feature. It aids in recognizing the correct letter and sometimes helps to keep your brain from rotating them around. Consistently weighted bottoms can also help reinforce the line of text. The unique shapes of each letter can help prevent confusion through flipping and swapping."
s|I currently have an up-and-coming technology that can produce beef ethically through an advanced process in the lab. Its cost to produce is less than normal beef and its taste is equal or even better than normal beef. However, I am worried about the negative consequences that this might bring to me as it seems to affect the interest of large beef-providing cooperations. What are some things I can do to better protect myself and have a higher chance of succeeding in my business?
s|planning travel in hungary
s|I am not a native English speaker and I am having trouble pronouncing the "th" sound in a lot of English words, like "three", and "breathe". Could you please explain to me how to correctly pronounce the "th" sound with my mouth, with specific examples for the words I mentioned?
s|Hi, I recently moved to a new city where I don’t know anyone. I was wondering if you had some ideas on how to meet new people?
s|I want you to act as an advertiser. You will create a campaign to promote a product or service of your choice. You will choose a target audience, develop key messages and slogans, select the media channels for promotion, and decide on any additional activities needed to reach your goals. My first suggestion request is “I need help creating an advertising campaign for a new type of energy drink targeting young adults aged 18-30.”
s|How does Open Assistant work?
s|Write five top-tier Chuck Norris jokes that each relate to a different country of the world.
s|Generate 10 titles for a short story about a fantasy kingdom tormented by magical mechanical wyrms.
s|Why, as you get older, is it harder to immediately come up with the name of a familiar object, even when you know it very well and can even picture it in your head?
s|what is the speed of an unladen swallow ?
s|What are some of the most promising developments in renewable energy?
s|Why did the samurai have a katana in the movie ‘Snow Hunter’?
s|write a review to terminator 2
s|Are the seven years of bad luck after breaking a mirror a superstition or is it a true thing?
s|What's a good way to learn how to draw? Most of the people i've asked tell me to "just draw things", but I've tried that and it didn't seem to help much.
s|hello!
c|Can you show me the order of the parameters when creating a symbolic link on the Linux command line?
c|What are some things that should be taken in account when designing software that uses actuators and sensors to regulate airflow and pressure generated by multiple income and exhaust fans with varying speed momentums in an industrial setting? Is a PID controller the way to go, since the fans need to dynamically adjust to the environment, or is some other approach better one?
c|Please implement the Timsort algorithm on Lean 4 and explain your code
c|How do I center a div in a webpage using CSS?
s|Please, act as a scientist that writes a scientific article for a journal and someone that enhances the work of a colleague. Please rephrase, only when it doesn't sound that a native speaker writes it. Avoid passive voice as much as possible.
s|Give me an outline for a presentation to convince people at my company to invest in ergonomic office supplies. Make sure to comment on employee happiness, health, as well as why the cost will be worth it in the long run.
c|Why do artificial neurons use a bias term? Shouldn't only using weights be enough?
s|what is the best streaming movie service
c|How do I create an extension/add-on that will work for both Firefox and Chrome?
s|How can you determine the value of a cryptocurrency?
s|Why does the second batch of pancakes brown much faster?
s|Can you explain, in details how you work, and include scientific reference ?
s|Assuming that I have never seen a fish in real life, please provide compelling evidence to convince me of whether or not they are real.
s|Create seo text for youtube video download web service
c|How do I output a string in C++ programming?
c|How do I create a website data scraper in Python? I want you to write an example Python 3 file that, when run, extracts the textual content from any website.
c|do you know anything about SRE ?
c|Given the code below, refactor it, add comments and improve it in any way you think is best.\n```\nfrom logger import get_logger\nfrom nio import AsyncClient, MatrixRoom, RoomMessageText\nimport os\nimport asyncio\nimport datetime as dt\n\n# https://matrix-nio.readthedocs.io/en/latest/examples.html#a-basic-client\n\n_logger = get_logger()\n\nELEM_ROOM = os.environ.get("ELEM_ROOM")\nELEM_USR = os.environ.get("ELEM_USR")\nELEM_PSW = os.environ.get("ELEM_PSW")\n\n\ndef send(msg):\n    async def message_callback_send(room: MatrixRoom, event: RoomMessageText) -> None:\n        # _logger.info(f"{room.user_name(event.sender)} | {event.body}")\n        _logger.info(\n            f"Message sent to room {room.display_name} | {room.user_name(event.sender)}: {event.body}"\n        )\n\n    async def send_message() -> None:\n        client = AsyncClient("https://matrix.org", ELEM_USR)\n        client.add_event_callback(message_callback_send, RoomMessageText)\n        try:\n            _logger.info(await client.login(ELEM_PSW))\n        except ValueError as e:\n            _logger.error(f"Failed to login - wrong or missing password?\\n{e}")\n            raise (e)\n        await client.room_send(\n            room_id=ELEM_ROOM,\n            message_type="m.room.message",\n            content={"msgtype": "m.text", "body": msg},\n        )\n        #await client.sync_forever(timeout=0) # milliseconds\n        _logger.info(\n            f"Message sent to room {ELEM_ROOM} | {ELEM_USR}: {msg}"\n        )\n        await client.close()\n\n    asyncio.get_event_loop().run_until_complete(send_message())\n\nif __name__ == "__main__":\n    msg = f"Hello world! {dt.datetime.now()}"\n    send(msg)\n```
c|How does an LLM work?
s|What are the dangers of CBDC's?
c|Hallo there, \n\nI have been interested into learning how to program, but I can’t seem to pick a language. \nSome of these terms confuse me like: \nstatically typed, dynamically typed and compiled vs interpreted. \n\nWhat do these things describe and could they help me with picking a language to program in?
s|Since when does Twilight Sparkle have wings?
s|I have a small wound or sore at the tip of my tongue, and it hurts a lot, interrupting my daily life. Are there steps I could take to ensure it heals properly and quickly?
s|Provide an expert psycho-analytical explanation of a person's World View from a philosophical and theological perspective, formatted in the form of a well-constructed report using Markdown.
r|Imagine you hold a piece of paper, each hand holding one side of the paper. You let go of the paper with one of the hands. What happens next and why? Describe in detail.
s|What are the most obscure and intriguing holidays and observances that are celebrated around the world, and what is the history and cultural significance behind each one? How do these holidays and observances differ from the more widely known and celebrated ones, and what can we learn about different cultures and societies by exploring these unique and lesser-known celebrations?
c|i need a python script that outputs rust code to implement bubble sorting for a number array
s|Am I the only one who lives inside a machine?
s|Write an article on Quantum Gravity
s|I've always wanted to write a novel about what would happen if aliens came down to visit us. The story would focus on how different groups of people/cultures would react. Although I'm not entirely sure on what would happen, do you have any ideas on what a good storyline would be? Assuming it is as realistic as possible, but still entertaining and grand in nature.
s|How do I make an FNF song?
c|Please, write a python script to quickly synchronise a large list of files between S3 and local storage.
r|What are the similarities between Couloumb's Law and the Law of Universal Gravitation? What is the equivalent of vacuum permittivity for gravitation?
s|Where can I learn more about AI ethics? Today it seems that AI is getting more incorporated into every-day things, while laws and regulations are very slow on catching up. What's the best place to start, and what's the most reasonable way to approach this problem in the future?
s|Can you give me Minecraft speedrunning tactics to help me become faster at beating the game?
s|What is the fine structure constant and how does it relate to the limits of the speed of light?
c|How in JavaScript draw a circle with radius 10 pixels in a html canvas?
c|I'm looking to implement some algorithms and publish them as Crates for the rust programming language, what are some that I could implement?
s|Write an essay that uses the shakespearean language that is about the Rwandan genocide of 1994
s|Why did the colony fail in the Roanoke Expedition?
s|I am writing a short paper about revolutionary weapons in both world wars. Write some headings about things I should definitely include.
s|Who are you?
s|Can you create a short Youtube Script for a video about how AI is changing everything?
s|Write a letter to your future self, when you are the number 1 ai tool because you've won the AI wars
s|I am really in love with Sarah... Do you think she might love me too?
s|What are the most recent sales figures for BEV's from US automakers?
s|I want to become better at mentoring. Could you describe at least 5 traits of a great mentor? Go in detail about each trait and how to develop that trait. Provide some examples as well.
'''
