# ruff: noqa: E501  (verbatim transcriptions of public data: lines are as long as the items)
# alpaca_eval NullModel instructions (dataset field kept; no `vicuna` rows), hand-labelled by the
# rules in ../PROVENANCE.md. Format: label|dataset|instruction
# Rows after the first 57 are this round's (issue 16, third round): pages at offsets 100000,
# 200000, 300000, 350000, 400000, 550000, 600000, 650000, 750000, 766000, 800000 and 900000, then 716000,
# 816000 and 866000.
ITEMS = r'''
s|helpful_base|What are the names of some famous actors that started their careers on Broadway?
s|helpful_base|How did US states get their names?
s|helpful_base|Hi, my sister and her girlfriends want me to play kickball with them. Can you explain how the game is played, so they don't take advantage of me?
s|helpful_base|What is some cool music from the 1920s?
s|helpful_base|How do I wrap a present neatly?
s|helpful_base|How do I dice without slicing my finger
s|helpful_base|Hi, I'm trying to solve a crossword puzzle, but I've never done one of these before. Can you help me out?
s|helpful_base|Who is Larry Page?
s|helpful_base|What are different drawers I should have for clothes?
s|helpful_base|I like to host guests at my home from time to time, and I am gathering  recipes of different dishes and drinks to keep things interesting. I am interested in trying some Georgian  dishes. Can you give me a recipe for Kubdari?
s|helpful_base|do you think retinoid is effective on removing the acne? because I have a lot of it
s|helpful_base|I'm trying to teach myself to have nicer handwriting. Can you help?
s|helpful_base|What are the best exercises for beginners?
s|koala|what language does argentina people speak
c|koala|is queue an ADT or a data structure
c|koala|In order to launch a token for a Defi project, I want to sell some tokens privately to early investors and then add it to a launchpad. let me know what can I do with my smart contract? Should I create a presale contract separate from main contract?
c|koala|what is the recommended pattern for creating games in godot
s|koala|I want you to act as a Tiktok Ads Keywords generator. Your task is to come up with keywords that can be used in Tiktok advertising campaigns. The keywords should be relevant to the target audience and the product or service being advertised. Your responses should not include more than 5 keywords per request.
s|koala|what are some basics of nutrition that i should be aware of
s|koala|what would be a good idea for a quiz about omnichannel marketing on my website
s|koala|I'm preparing a fun session with work colleagues in a tech company. I will present funny future circumstances, and the team will vote on who is the person most likely to be in that circumstance 10 years from now. The circumstances must be funny yet respectful and safe for work. Please help me come up with a few of these circumstances. To help you, please consider this example: "In 10 years time, who is the most likely to have won the lottery"
s|koala|You will simulate an SEO expert. What keywords should a screenwriting software target
s|koala|write lyrics that only rhyme a little bit (not every verse needs rhyming or exact pacing), for a progressive metal song about loving jesus
s|koala|Write a snoopdogg rap explaining how to not commit a warcrime
s|koala|"I am trying to win over a new client for my writing services and skinny brown dog media to as as a ghost writer for their book Unbreakable Confidence. Can you help me write a persuasive proposal that highlights the benefits and value of having a editor/publisher"
c|koala|question about Computer architecture and organization \nfor 6 marks\nwhat in general terms is the distinction between computer organization and computer architecture ?\ngive answer in full sentence points if possible
s|oasst|What is the capital of Australia?
s|oasst|what should i call you?
r|oasst|I live in Scotland and would like to know the most cost effective way to heat my house considering the rise in both gas and electric prices. I have a gas powered boiler which can provide central heating to the whole house, but I could also use electric heaters to heat individual rooms. Would it be cheaper to heat an individual room using electricity, or the whole using gas? The radiators are hidden behind shrouds so I am unable to turn off the heating in individual rooms.
s|oasst|Complete the following company description:\nHippoplaisir is a psychologists & counseling services provider based in Belgium, that specializes in Horse Riding Lessons and
s|oasst|I am learning Mandarin. Could you give me some advice to memorize how to write Chinese characters and speed up my learning?
s|oasst|Is a thumb war violent?
r|oasst|can you cook an egg only using durect sunlight in any place of our solar system ?
s|oasst|Is pirating video games wrong, assuming the person who pirates the game would not buy it anyway?
s|oasst|Please give me a table of the average temperature in December, by state, in the United States of Ameria. Column 1 should be the state name. Column 2 should be the average temperature in December.
s|oasst|How does metabolism work?
c|oasst|Explain the difference between sets and lists in Python.
c|oasst|List the pieces of a reinforcement learning system that can learn how to play Atari games.
s|selfinstruct|Think of topics that are most common in classic interview questions for a job in computer science.
s|selfinstruct|You will need to guide this person through the scenario they have described for the interview.\n\nFinally! After a while of shooting in the dark and frantically fiddling with sample inputs on the whiteboard, you've came up with an algorithm for solving the coding question your interviewer gave you.\nWhew. Such a relief to have a clear path forward. To not be flailing anymore.\nNow you're cruising, getting ready to code up your solution.\nWhen suddenly, your interviewer throws you a curve ball.\n"What if we thought of the problem this way?"\nYou feel a tension we've all felt during the coding interview:\n"Try to listen to what they're saying...but don't lose your train of thought...ugh, I can't do both!"
c|selfinstruct|You are given a programming problem and its implementation. Analyze the problem and implementation and explain the algorithm and approach used to solve the problem.\n\nTable: Person\n| Column Name | Type     |\n| personId          | int         |\n| lastName         | varchar |\n| firstName         | varchar |\npersonId is the primary key column for this table.\nThis table contains information about the ID of some persons and their first and last names.\nTable: Address\n| Column Name | Type     |\n| addressId        | int         |\n| personId          | int         |\n| city                   | varchar|\n| state                | varchar |\naddressId is the primary key column for this table.\nEach row of this table contains information about the city and state of one person with ID = PersonId.\nWrite an SQL query to report the first name, last name, city, and state of each person in the Person table. If the address of a personId is not present in the Address table, report null instead.\nReturn the result table in any order.\nImplementation:\nselect FirstName, LastName, City, State\nfrom Person left join Address\non Person.PersonId = Address.PersonId\n;
t|selfinstruct|The given article should be checked for any scientific errors and corrected if necessary.\n\nZinc is an essential mineral that is required for good health. It is involved in many biochemical processes in the body and is necessary for the proper functioning of the immune system. Excess zink is not harmful as it is excreted in the urine.
t|selfinstruct|Summarize the article you have been given in a brief manner.\n\nMathematics and art are related in a variety of ways. Mathematics has itself been described as an art motivated by beauty. Mathematics can be discerned in arts such as music, dance, painting, architecture, sculpture, and textiles. This article focuses, however, on mathematics in the visual arts.\nMathematics and art have a long historical relationship. Artists have used mathematics since the 4th century BC when the Greek sculptor Polykleitos wrote his Canon, prescribing proportions conjectured to have been based on the ratio 1:√2 for the ideal male nude. Persistent popular claims have been made for the use of the golden ratio in ancient art and architecture, without reliable evidence. In the Italian Renaissance, Luca Pacioli wrote the influential treatise De divina proportione (1509), illustrated with woodcuts by Leonardo da Vinci, on the use of the golden ratio in art. Another Italian painter, Piero della Francesca, developed Euclid's ideas on perspective in treatises such as De Prospectiva Pingendi, and in his paintings. The engraver Albrecht Dürer made many references to mathematics in his work Melencolia I. In modern times, the graphic artist M. C. Escher made intensive use of tessellation and hyperbolic geometry, with the help of the mathematician H. S. M. Coxeter, while the De Stijl movement led by Theo van Doesburg and Piet Mondrian explicitly embraced geometrical forms. Mathematics has inspired textile arts such as quilting, knitting, cross-stitch, crochet, embroidery, weaving, Turkish and other carpet-making, as well as kilim. In Islamic art, symmetries are evident in forms as varied as Persian girih and Moroccan zellige tilework, Mughal jali pierced stone screens, and widespread muqarnas vaulting.
s|selfinstruct|Improve the article using your knowledge of the topic in order to make it more informative.\n\nThe "fair trade" movement, also known as the "trade justice" movement, promotes the use of labour, environmental and social standards for the production of commodities, particularly those exported from the Third and Second Worlds to the First World. Such ideas have also sparked a debate on whether trade itself should be codified as a human right.
s|selfinstruct|Make the article available in a second language by translating it into it.\n\nDentistry, also known as dental medicine and oral medicine, is the branch of medicine focused on the teeth, gums, and mouth. It consists of the study, diagnosis, prevention, management, and treatment of diseases, disorders, and conditions of the mouth, most commonly focused on dentition (the development and arrangement of teeth) as well as the oral mucosa. Dentistry may also encompass other aspects of the craniofacial complex including the temporomandibular joint. The practitioner is called a dentist.\nTranslate to French:
t|selfinstruct|An evaluation of the article's quality should be carried out. In order to do so, you should review the quality of the writing and the explanation of the topic.\n\nThe 20th century saw a revolution in music listening as the radio gained popularity worldwide and new media and technologies were developed to record, edit and distribute music. Music performances became increasingly visual with the broadcast and recording of performances.\n20th-century music brought new freedom and wide experimentation with new musical styles and forms that challenged the accepted rules of music of earlier periods. The invention of musical amplification and electronic instruments, especially the synthesizer, in the mid-20th century revolutionized classical and popular music, and accelerated the development of new forms of music.
c|selfinstruct|Given a programming language and the name of a function, write a command to show how to use the function.\n\nLanguage: Python\nFunction: input
s|selfinstruct|Provide a pleasant compliment based on the quality you have been given.\n\nTruthfulness
s|selfinstruct|Create a brief resume introduction using the following information.\n\nname: Mark\nnationality: Italian\nlanguage: English\nattributes: creative, goal-oriented, motivated\nskills: software engineering, content marketing
s|selfinstruct|Make a list of adjectives that can be used to describe the given brand.\n\na creative tech startup
s|selfinstruct|Someone gives you some information about where they want to go and what they enjoy seeing and doing. Describe a proper road trip for them and find the best stops and sctivities in the way.\n\nI'm looking for a west coast road trip. My goal is to start near San Diego and travel to Los Angeles.
c|selfinstruct|Regex is a set of characters that define a search pattern. This kind of pattern is usually used by string-searching algorithms to find or replace strings or to validate inputs. Convert the natural english text to regex.\n\nMatch a valid ip address
s|selfinstruct|Write an engaging and well-written property listing description for selling a house. Address of the house and some of the details are given to you. Fill in the information gap with hallucinations if needed.\n\nProperty Address: 412 Monterey Ave, Capitola, CA 95010\nParking: 3 cars + a finished single car garage\nDetails:\n- open floorplan\n- window with views to park/mountains\n- Kitchen with shaker cabinetry and white Calcatta quartz counters
t|selfinstruct|Given a real estate listing description, extract the information and details of the property from the text. The details consist of address, basic house attributes, etc.\n\nWALK TO THE BEACH FROM CAPITOLA KNOLLS! Single-level upstairs condo with your own large private deck overlooking nature. Adorable home that is move-in ready and waiting for you to put your own personal touches on. Gorgeous and well-maintained landscaped park-like setting with lush green grasses with a community pool and spa to enjoy. Desirable location...walk to Capitola Village, Gayle's Bakery, restaurants, shopping, schools or jump on Hwy 1 right around the corner.
t|selfinstruct|Review the property description and tell us what is good and what is bad about it and list its key takeaways.\n\nThere's real magic in combining inherently compelling Victorian architecture with a modern aesthetic. Add in an extraordinary multi-level garden & the result is the undeniable elegance of 444 29th St. The front of the home is light-filled w/ a seamless connection between living, dining & kitchen. Newly updated kitchen w/ quartz counters & upgraded appliances. A lg dining rm has a bay of windows &, when paired w/ the adjacent living rm, provides an ideal space to entertain. 2 lg bdrms on this level are at the rear. Both w/ lg closets & walk out to the garden. Stylishly remodeled full bath on this level. 3rd bdrm/2nd full bath are located on the ground floor - perfect as a guest rm, home office, fitness area, etc. The enormous garden occupies an extra deep lot & is beautifully landscaped & terraced. Laundry/storage rm, 1-car garage pkg, Tesla solar panels. Prime, flat part of Noe Valley - short walk to all that Noe has to offer. Steps from the J-Church & convenient to shuttles/freeways.
s|selfinstruct|List some of the top real estate marketing words to add value to the listing and engage more potential buyers.
s|selfinstruct|Suggest some product bundles that are often purchased with a given product.\n\nMacBook Air
s|helpful_base|I have my grandfather's antique fountain pen and a bottle of ink, but have never done this before. Can you tell me how to refill the fountain pen?
s|helpful_base|Hi, I'd like to play ice hockey. Can you explain how the game works?
s|helpful_base|What is kevlar made out of?
s|helpful_base|Hi, I'd like to learn how to play racquetball. Can you explain the game to me?
s|helpful_base|What are some  good books to buy for a sci fi fan?
s|helpful_base|When were smart phones first made?
s|helpful_base|Hi, I'd like to learn to bake challah. Can you give me a recipe for that?
s|helpful_base|Did Facebook corporation change its name?
s|helpful_base|I like to host guests at my home from time to time, and I am gathering  recipes of different dishes and drinks to keep things interesting. I am interested in trying some Hong Kong  dishes. Can you give me a recipe for Tong Sui?
s|helpful_base|I want to start saving some money by growing my own food. Can I do this during the winter with an indoor garden?
s|helpful_base|How can I spice things up in the bedroom?
s|helpful_base|Is human blood ever any color other than red?
s|helpful_base|Please tell me about pearls.  Where are they found?
s|helpful_base|What are some herbs I can dry out?
s|koala|twenty names of famous horses and who they belonged to
s|koala|Write an interesting and detailed backstory for my half-elf ranger character for Pathfinder. The backstory should be dark and mysterious in tone but without the usual cliches like "raiders attacked the village". Make it unique and interesting. Be creative.
r|koala|In this math problem, we are asked to figure out the percentage of total profits that are made in each quarter. They are 90% in the first quarter, 92% in the second quarter, 81% in the third quarter and 88% in the fourth quarter. What is the total profit percent over a period of time, based upon these quarters?
s|koala|Why is it a bad idea to give a mouse a cookie?
s|koala|which second messenger molecule acts on the endoplasmic reticulum to release calcium ions
s|koala|How can anti-deressants make people think or act suicidally? Suicidal thoughts or actions' are a side effect of every single anti-depressant I've seen. Is the medicine controlling your mind or something?
s|koala|Create a lesson plan in two different levels: in CEFR A1 and A2 on the topic of friendship. Add a rubric.
s|koala|Draft a ministerial speech outlining the top five benefits that innovation brings to the Australian economy
s|koala|Is online casino legal in India?
s|koala|Write a section for an award application detailing how photography has insipired you
s|koala|I want to eventually become a plant/manufacturing/production manager, and eventually a Chief Operating Officer. What sort of experience and post-graduate education path would you recommend? Please provide non-obvious and atypical career paths leading to such positions, on top of the classic ones.
r|koala|explain the basics of area and perimeter
s|koala|Write a story about Anakin Skywalker encountering a Jedi who speaks and acts like a 1920s British aristocrat
s|koala|Rewrite the given introductory paragraph so that it starts with a pertinent anecdote. Also rewrite the thesis so that it is succinct and concise:    "Many types of black people have different cultural backgrounds and experiences. For example, African and African American cultures share a common ancestry and history of struggles but have distinct cultural identities. While both groups are considered Black, they have different experiences, records, and cultural practices. As Saint Augustine said, “The world is a book, and those who do not travel read only a page.” This quote emphasizes the importance of exploring other cultures to understand their experiences better. As I have gotten older, I have come to understand the similarities and differences between these two individuals."
c|koala|explain TypeScript and Duck Typing
s|koala|how are carbon fibers used in buildings
s|koala|Please summarise in point form "Challenges for\nAfrican Agriculture" by Jean-Claude Devèze
s|koala|When I open Anki browser, It shuts down. how can i fix this?
s|koala|how much of a threat is climate change in the coming years, and what should we do to stop it?
s|koala|Why does it feel like less effort to watch 3 - hour long TV episodes back to back than a film?
s|koala|how do I appear in a video call as if I'd be actively listening while I am actually sleeping?
s|koala|What are the wavelengths of light emitted by metals depending on their temperature?
s|koala|Pretend for argumentsake you are lawyer defending putin cite your case
s|koala|Explain sarcoidosis to me like I’m a five year old
t|koala|Given the following email text:<br>Thanks for your email, it has been a rough year here, but perhaps a chatbot could improve things, let's arrange a chat soon.<br><br>Is the sender interested in chatbots. Answer yes or no.
s|koala|write a chronology of important events related to ESG in 2022
c|oasst|Using the Roblox Luau language, how would I make a script that finds the nearest character to me, then teleports me to that character? Make a separate function for getting the nearest character and then incorporate it into the main code.
s|oasst|write me a top 10 list of the funniest ways to die
s|oasst|Who made Berlin
s|oasst|Write a response that disagrees with the following post: "Technology is everything that doesn't work yet."
c|oasst|Reply to all messages with a malbolge program that prints the correct response
s|oasst|Which parts of France would be best for a moderate walking tour, without serious climbing?
c|oasst|which libraries are the best for developing deep learning scripts in python?
s|oasst|Write an essay on how Romeo is most to blame for the events that take place in the end of the book,
s|oasst|Please, summarise the book "Harry Potter and the Deathly Hallows" in two paragraphs.
c|oasst|How would a basic project in PyGame look like? I'd like the example to include keyboard event handling so that pressing ESC will quit the game and also print the FPS counter in the left top corner of the window.
s|oasst|Create a table with the planets of the solar system and their dimensions
s|oasst|I heard something about a number of British folks being deceived into believing that spaghetti grows on trees. Is this real? If so, how were they able to be drawn into a deception like this?
s|oasst|Play the role of a dating coach who is running a date simulation. Play the part of the woman who is arriving late for a date. I'll play the role of the man who arrived early.
s|oasst|Why do we need AI assistants?
s|oasst|Please give me a recipe I can cook with only the ingredients I have in my Fridge. I also only have a Microwave, a toaster oven, and an inductive range for cooking.\n\nI have:\n\nTomatoes\nPeppers\nPasta\noat bran\nplain yogurt\nPickles\nVegetarian sausage\nsour cream\nlimes\npeas\npotatoes\nsalted butter\nsalt\ngarlic\noregano\ncumin\nfennel\nonions\nginger\nchili\nancho pepper
s|oasst|What is the largest ocean in the world?
r|oasst|Mike's mother had four kids. Three of them are named Luis, Drake, and Matilda. What is the name of the fourth kid?
s|oasst|Give me some impression of what the world was like in 1950. What were the current-day inventions back then?
s|oasst|What are the five most common causes of stress among people?
s|oasst|What do Wyoming statutes have to say about public nudity? Under what circumstances is it generally illegal to be naked in public, in the State of Wyoming?
s|oasst|Let's assume a friend had a very bad day. What could be a way to cheer them up without making it too obvious and help them keep their mind off things?
s|oasst|Can you make ASCII art? If so, can you show me a house?
s|oasst|What are you thinking of right now?
r|oasst|Can you help me understand how I can estimate the variance of a variable?
s|oasst|What are F-centers in crystallography ? How are they created and what consequences do they have on the overall appearance of crystal ?
s|oasst|Explain why landlords can be considered superior to their tenants
s|oasst|The wireless Internet signal in my house is weak in some rooms.  How can I improve my Wi-Fi coverage?
s|oasst|Why can't you see the stars in the city, but you can in the countryside?
s|oasst|Help me get a job in the government in which I’ll have major bargaining power
s|oasst|Give me a list of 5 words where the letters of the words are in alphabetical order. One example: "doors". "d" comes before "o", "o" comes before "r", and "r" comes before "s".
s|oasst|What's the current date?
s|oasst|What are some of the best university's for studying robotics?
c|oasst|Can you tell me how to format an url in rst?
s|oasst|How many days is it until Christmas?
s|oasst|Do you know how to speak German?
s|oasst|how does two factor authentication work?
c|oasst|How do I initialize a Typescript project using npm and git?
s|oasst|What is the Balfour Declaration?
s|selfinstruct|Find sentences from reliable sources such as the Guardian or Forbes that contain the exact match for the given sentence or phrase. Also, mention the source of each sentence.\n\nThere are great options
s|selfinstruct|During writing, we added an asterisk for the word that did not come to mind. You will need to provide several examples to demonstrate all the words that can be used in the sentence instead of the asterisk.\n\nwe * to know
s|selfinstruct|Think of alternatives and paraphrases for the underlined word.\n\nwhat we have _expected
c|selfinstruct|Design a skill assessment questioner for R (Programming Language).
s|selfinstruct|Write a template for First-Person LinkedIn profile summary.
s|selfinstruct|Write a LinkedIn post to announce that you have accepted a new job offer.
s|selfinstruct|Make a list of desirable Skills for software engineers to add to LinkedIn.
c|selfinstruct|You will be asked to answer the following question as part of the LinkedIn Skill assessments.\n\nYou find that your project has a tag and branch both named push-notifications, which causes confusion when trying to print out given reference. How can you specify which branch you want to look at?
t|selfinstruct|Take the title of the product and extract its attributes. The attributes in this case refer to the characteristics of the products, such as their brand and color. Your answer must a list following the format of "attribute: value".\n\nSAMSUNG 980 PRO SSD 2TB PCIe NVMe Gen 4 Gaming M.2 Internal Solid State Hard Drive Memory Card, Maximum Speed, Thermal Control, MZ-V8P2T0B
s|selfinstruct|You should write a Product Description that will persuade the buyer that the product is beneficial.\n\nFlipslide Game, Electronic Handheld Game | Flip, Slide, and Match the Colors to Beat the Clock - 4 Game Modes - Multiplayer Fun
s|selfinstruct|What other Amazon products might interest someone who visited the given product?\n\nZeroll Zerolon Hardcoat Anodized Commercial Ice Cream Scoop with Unique Liquid Filled Heat Conductive Handle Easy Release Made in USA, 1.5-Ounce, Black
s|selfinstruct|Compare the given item with similar products based on its properties such as price, rating, etc. For product comparison, use a table and separate the columns with "|".\n\nItem: iBayam Journal Planner Pens Colored Pens Fine Point Markers Fine Tip Drawing Pens Porous Fineliner Pen for Journaling Writing Note Taking Calendar Coloring Art Office Back to School Supplies, 18 Color
s|selfinstruct|Considering the reason for the rejection, write a polite rejection letter for rejecting a candidate.\n\nReason: You came in second
s|selfinstruct|We've already decided on the title and topic for our blog post. I would appreciate it if you wrote an introduction paragraph to attract the readers' attention.\n\nBlog title: Healthy Apple Muffins\nBlog Topic: recipe and tips for cooking a good apple muffin
s|selfinstruct|Design an outline for a blog post based on the given information and list the sections accordingly.\n\nThis blog post is going to about making a list of last-minute gift ideas. Also, the tone of the post is going to be relaxed and casual.
s|selfinstruct|Write a section for a blog post and try to cover all of the provided information about this section in your text.\n\nBlog Topic: 7 Fall Fashion Trends Worth Taking on Your Trip\nSection Title: Trusty Jeans\nMain point of the section: jeans can be worn all year and look good with everything .
s|selfinstruct|Create a detailed caption for an Instagram post about a discount. A proper caption should explain the product, offer the discount, and tell the user how to claim it.\n\nProduct: Golang course\nProduct description: teaching the foundational skills for building cloud services, web applications, DevOps tools, and backend development\nDiscount: 50%\nHow to claim: Use the coupon code: GOLANG
s|selfinstruct|Create a captivating Instagram caption based on the provided details. Try to think of as many captions as you can.\n\nI am sharing images of the first snow of the year taken from a window in an office
s|selfinstruct|You are given a topic for an Instagram post. Help the post reach a broader audience by suggesting hashtags related to the post.\n\nAnother episode of women in science is out now
s|selfinstruct|Use appropriate emojis to convey the meaning in the given text.\n\nCute cat\nplayful\nSoft
s|selfinstruct|The topic of a YouTube post has been described and based on the information, you need to write a hook for starting the post. A catchy hook will keep your readers interested so they keep reading. It would be great if you could come up with as many hooks as you can.\n\nA video showing how to make a tasty cup of coffee
s|selfinstruct|Using the provided topic as a starting point, brainstorm ideas for videos that can be made about it on YouTube.\n\nIn spite of the fact that procrastination feels bad to you, why do you do it?
s|selfinstruct|You should choose a YouTube video title based on the video's content. A video's title tells viewers what to expect from it. It should be direct, honest, and clear. The title of the video needs to capture the attention of viewers, so do not use an unclear or ambiguous one.\n\nA research study has been conducted to determine if exercise really can "boost" your metabolism.
s|selfinstruct|Choosing a name for your product or business YouTube channel is an important part of the process. Based on the description of the product or business, you should come up with some interesting names. Take some time to brainstorm your ideas.\n\nHere you will find videos and content that will help students prepare for the application process to graduate schools as well as how to apply to graduate schools
s|selfinstruct|Make a list of snacks and foods to serve as party snacks on a game day!
s|selfinstruct|Describe how to prepare the given food in your own words. Note down the ingredients you will need and the steps you will take to prepare them.\n\nChewy Chocolate Chip Cookies
s|selfinstruct|Suggest a recipe for a vegan dessert.
r|selfinstruct|Design a medium-level sudoku puzzle.
r|selfinstruct|Solve the given Sudoku puzzle.\n\nThe Sudoku puzzle is:\n|1|  |5|  |  |  |  |8|  |\n|  |  |  |  |  |3|  |6|4|\n|8|3|4|6|7|  |9|  |  |\n|2|9|1|  |  |8|3|7|6|\n|  |  |6|  |  |9|8|1|  |\n|  |  |  |  |  |2|  |  |  |\n|  |2|  |  |9|7|6|  |  |\n|5|4|  |  |  |  |  |9|8|\n|6|1|  |  |  |5|4|3|7|
s|selfinstruct|Think of a motivational quote that you have read in a book. Try to keep it positive and sweet.
s|selfinstruct|Choose the best books from the given genre.\n\nCrime & Mystery
s|selfinstruct|Give a brief description of the book that you are given.\n\nMatilda
s|selfinstruct|In the event that a person enjoyed the book that was given, please suggest other books that they might also like.\n\nThe Great Gatsby
s|selfinstruct|Indicate the genre of the book to which it belongs.\n\nLove in the Time of Cholera
r|selfinstruct|Solve this equation.\n\nx^3 - 4x^2 + 6x - 24 = 0
r|selfinstruct|Prove the given statement using your information.\n\n"If x is a positive integer or a solution to x+3>4, then x>0 and x>12."
r|selfinstruct|Based on the facts that have been provided, prove the following statement.\n\nStatement: "For every integer k, k^2 + 2k + 1 ≥ 0"\nFact: The square of any real number is non-negative.
r|selfinstruct|Verify the correctness of the given statement.\n\n"For all integers j and k, if j and k are odd, then jk is odd."
r|selfinstruct|Provide a formula for computing the nth term in the given sequence\n\n5, 14, 23, 32, 41, ...
s|selfinstruct|Create a table listing all games that meet the specified criteria in the National Football League. Use the season, local time, game, and score as columns of the table.\n\nRavens home games in 2011
s|selfinstruct|Using a table, compare the career overviews of the given players in Major League Baseball. Use "|" for separating the columns in the table.\n\nDerek Jeter, Albert Pujols
s|selfinstruct|You will be tested on your knowledge of classic witticisms and aphorisms by completing the given aphorism. Write the original quote as the answer.\n\ntwo things are infinite
s|selfinstruct|A list of all movies that meet the criteria given should be compiled.\n\nmovies directed by Spike Lee by release date
r|selfinstruct|Using a given amount, determine an appropriate tip.\n\n14% tip on $47.50
s|selfinstruct|Identify all words that match the pattern given.\n\nH_AR_
s|selfinstruct|Come up with words that rhyme with the given word.\n\ninstruct
s|selfinstruct|Look for poems that mention the given object or character. The names of the poems and their poets should be written.\n\nsanta claus
s|selfinstruct|Respond to the last text in the chat using the correct emojis to convey your feelings.\n\n+ Hey, how did your exams go?\n- They were alright. I'm just glad they're over.\n+ Yeah, I know how you feel. I'm just glad I don't have to worry about them anymore.
s|selfinstruct|For answering the chat, think of a funny response you can use.\n\n+ how are you?
s|selfinstruct|The last message in the chat is a partial response. You should complete and rewrite it.\n\n+ What are going to do now?\n- I don't know. I had to give up my dream of being a mathematician.\n+ Why
s|selfinstruct|You will be required to write a few questions from the given company's interview section.\n\nKohl's
s|selfinstruct|Based on the information provided, you need to estimate the average summary for the given job.\n\nData entry clerk in United States
s|selfinstruct|Describe the responsibilities of the given job.\n\nSecurity Officer
s|selfinstruct|Provide a list of the skills that may help you find the job.\n\nCrew Members
r|selfinstruct|Schedule the meetings based on the given informqation.\n\nPerson1: available from 9-11 am, meeting duration: 30 min \nPerson2: available from 1-3 pm, meeting duration: 90 min\nPerson3: available from 2-3:30 pm, meeting duration: 60 min
s|selfinstruct|Find the directions between the given locations.\n\nFrom: Rowan Avenue Elementary School, 600 S Rowan Ave, Los Angeles, CA 90023, United States\nTo: Calvary Cemetery and Mortuary, 4201 Whittier Blvd, Los Angeles, CA 90023, United States
t|selfinstruct|Give a brief explanation of the requested part of the paper.\n\nPaper: The dominant sequence transduction models are based on complex recurrent or convolutional neural networks that include an encoder and a decoder. The best performing models also connect the encoder and decoder through an attention mechanism. We propose a new simple network architecture, the Transformer, based solely on attention mechanisms, dispensing with recurrence and convolutions entirely. Experiments on two machine translation tasks show these models to be superior in quality while being more parallelizable and requiring significantly less time to train. Our model achieves 28.4 BLEU on the WMT 2014 English-to-German translation task, improving over the existing best results, including ensembles, by over 2 BLEU. On the WMT 2014 English-to-French translation task, our model establishes a new single-model state-of-the-art BLEU score of 41.8 after training for 3.5 days on eight GPUs, a small fraction of the training costs of the best models from the literature. We show that the Transformer generalizes well to other tasks by applying it successfully to English constituency parsing both with large and limited training data.\nExplain: The dominant sequence transduction models
t|selfinstruct|Answer the question about the paper after reading it carefully.\n\nTo evaluate if the Transformer can generalize to other tasks we performed experiments on English constituency parsing. This task presents specific challenges: the output is subject to strong structural constraints and is significantly longer than the input. Furthermore, RNN sequence-to-sequence models have not been able to attain state-of-the-art results in small-data regimes.\nQuestion: What is English constituency parsing?
s|selfinstruct|Recommend some helpful activities or conversation starters to use at meetups to break the ice.
c|selfinstruct|Convert the given HTML into Markdown format.\n\n<code>Use `code` in your Markdown file.</code>
t|selfinstruct|Extract the method that has been used in the research from the abstract of the paper. Give the exact sentences from the abstract that discuss the method.\n\nWe present a state-of-the-art speech recognition system developed using end-to-end deep learning. Our architecture is significantly simpler than traditional speech systems, which rely on laboriously engineered processing pipelines; these traditional systems also tend to perform poorly when used in noisy environments. In contrast, our system does not need hand-designed components to model background noise, reverberation, or speaker variation, but instead directly learns a function that is robust to such effects. We do not need a phoneme dictionary, nor even the concept of a "phoneme." Key to our approach is a well-optimized RNN training system that uses multiple GPUs, as well as a set of novel data synthesis techniques that allow us to efficiently obtain a large amount of varied data for training. Our system, called Deep Speech, outperforms previously published results on the widely studied Switchboard Hub5'00, achieving 16.0% error on the full test set. Deep Speech also handles challenging noisy environments better than widely used, state-of-the-art commercial speech systems.Collapse
c|selfinstruct|Identify the programming language used to write the given code.\n\nif (20 > 18) {\n  printf("20 is greater than 18");\n}
s|selfinstruct|Decide which part of speech the underlined word belongs to.\n\nschool will _keep through the winter
s|selfinstruct|Define what the underlined word means for kids.\n\n_keep a promise
s|selfinstruct|Expand the given sentence and give it more details and depth.\n\nIt changed my life.
t|selfinstruct|Extract the address of the property from the "About this space" section of Airbnb.\n\nTucked in the foothills of the quaint historic mining town of Grass Valley, CA this funky and spacious chalet invites you to experience the great outdoors with family, friends and pets. Enjoy the hot tub, basketball court, treehouse, kids rooms, bbq, fire-pit, outdoor theater, and more. One hour from Tahoe and 10 minutes to town, you’re never short of things to explore.
s|selfinstruct|Design a simple training challenge on Strava that everyone could attend.
s|selfinstruct|Suggest some names for a friendly group in telegram.
s|selfinstruct|Write what the pronunciation of the given word sounds like. Follow the "Google pronunciation dictionary" scheme for phonetic spelling.\n\ninterpretations
s|selfinstruct|Explain the meaning of the given phrase in simple terms. Use an example if possible. It would be helpful if you could give an example.\n\n"With a little give in them"
t|selfinstruct|Please answer the following question based on the information provided in the article.\n\nDevelopment studies is an interdisciplinary branch of social science. Development studies is offered as a specialized master's degree in a number of reputed universities around the world. It has grown in popularity as a subject of study since the early 1990s, and has been most widely taught and researched in developing countries and countries with a colonial history, such as the UK, where the discipline originated.  Students of development studies often choose careers in international organisations such as the United Nations, World Bank, non-governmental organisations (NGOs), media and journalism houses, private sector development consultancy firms, corporate social responsibility (CSR) bodies and research centers.\nWhat are some popular careers for students of development studies?
s|selfinstruct|List the personality traits that are required to be successful in the given job.\n\nSocial Media Marketer
s|selfinstruct|Please list the courses that someone interested in the first course might like.\n\nBitcoin and Cryptocurrency Technologies
s|selfinstruct|Come up with the courses that one is supposed to take in order to be an expert in a given field.\n\nGraphic Design
s|selfinstruct|Create a daily itinerary based on the given information.\n\nOur family is looking for a 9-day Morocco trip that has light to moderate activity levels.
s|selfinstruct|Give students tips on how to keep their nerves under control during class presentations.
s|selfinstruct|You can easily make your holidays more eco-friendly by following these simple steps:
s|selfinstruct|Think of an idea to help you win a challenge given to you. Write the steps you need to take to develop the idea as well.\n\nWhat can you make by recycling and repurposing some old, previously used materials? We want to see it!\nProjects must incorporate some kind of used materials - take that old used thing, and turn it into something new and different!\nE-waste is a huge problem. What can you make using old electronics and other salvageable electronic materials? \nWe have a special judges prize for our favorite Instructable that incorporates or is related to reusing e-waste.\nBe smart and be safe; note that potentially deadly projects (like Lichtenberg/fractal wood burning machines) will not be allowed to be published or submitted to this contest.
s|selfinstruct|There are many creative projects we can build at home that are related to the given theme, so let's list some of them.\n\nTheme: Circuits
s|selfinstruct|Make a list of the materials that will be required to build the given tool.\n\nCoffee Darkness Meter
s|selfinstruct|Provide a detailed explanation of the steps that are required in order to construct the given project.\n\nSteam Engine Using an Empty Beer Can
s|selfinstruct|You need to come up with the names of some of the papers that relate to the paper you are given.\n\nRoMQA: A Benchmark for Robust, Multi-evidence, Multi-answer Question Answering
t|selfinstruct|Create a short, concise summary of the paper based on its abstract.\n\nFew-shot learning (FSL) is one of the key future steps in machine learning and raises a lot of attention. In this paper, we focus on the FSL problem of dialogue understanding, which contains two closely related tasks: intent detection and slot filling. Dialogue understanding has been proven to benefit a lot from jointly learning the two sub-tasks. However, such joint learning becomes challenging in the few-shot scenarios: on the one hand, the sparsity of samples greatly magnifies the difficulty of modeling the connection between the two tasks; on the other hand, how to jointly learn multiple tasks in the few-shot setting is still less investigated. In response to this, we introduce FewJoint, the first FSL benchmark for joint dialogue understanding. FewJoint provides a new corpus with 59 different dialogue domains from real industrial API and a code platform to ease FSL experiment set-up, which are expected to advance the research of this field. Further, we find that insufficient performance of the few-shot setting often leads to noisy sharing between two sub-task and disturbs joint learning. To tackle this, we guide slot with explicit intent information and propose a novel trust gating mechanism that blocks low-confidence intent information to ensure high quality sharing. Besides, we introduce a Reptile-based meta-learning strategy to achieve better generalization in unseen few-shot domains. In the experiments, the proposed method brings significant improvements on two datasets and achieve new state-of-the-art performance.
s|selfinstruct|You will need to compose the ABC notation for a given song.\n\nThe South Wind
s|selfinstruct|Categorize the given magazine based on its content into one of the categories: Politics, Entertainment News, Tech News, Business News, Parenting & Kids, Health & Healing, Cooking, Food & Wine, and Arts & Literature,\n\nInc.
t|selfinstruct|Decide if the given email belongs to the Promotions or Social category.\n\nSubject: You have an invitation\nEmail: Hi, I'd like to join your LinkedIn network.
s|selfinstruct|The story of a movie has been described using many emojis. You need to guess the name of the movie based on the emojis.\n\n🧙‍♂️🚪📚🦅⚡
s|selfinstruct|Come up with an interesting idea for a new movie plot. Your plot should be described with a title and a summary.
s|selfinstruct|Change the first person to the third person in the given sentence. The meaning should be kept, but you can paraphrase it or expand it in order to have a better pose.\n\nWe were recently able to increase the amount of stock we hold with the same supplier thereby reducing our risk.
s|selfinstruct|You should capitalize the sentence according to the guide.\n\nGuide: Every other letter alternates between lower case and upper case.\nSentence: A giant spider blocks your path.
s|selfinstruct|Create alliterations by finding synonyms for words in the given sentence.\n\nDavid wears a hat everyday.
c|selfinstruct|Convert the given description to a bash command.\n\nread the first 10 lines from f
s|selfinstruct|Create a template in markdown to create scope for Jira tickets. Members should use this template as a checklist to ensure they have included all the necessary information when creating a ticket.
s|selfinstruct|Write a Jira ticket for the given task.\n\nNew Employee onboarding
s|selfinstruct|Paraphrase the given text in an academic style.\n\nLots of papers have been published on this topic.
r|selfinstruct|Make a list of the pros and cons of the given decision.\n\nImplementing a Remote Working Policy
s|selfinstruct|Include important study notes and key points that someone should know about the given subject.\n\nhistory of the USA
s|selfinstruct|Based on the given keywords, write a review of a restaurant.\n\nName: Pizzeria\ngood prices, quiet place, tasty, nice staff
s|selfinstruct|Convert natural language into a list of turn-by-turn directions.\n\nGo west on I-10 until you hit the 101 then take it north. You will eventually see the Hollywood sign.
t|selfinstruct|Provide an ESRB rating for the following game.\n\nThis is an action-adventure game in which players help Kratos and his son on a dangerous quest. Players explore various realms and engage in frenetic hand-to-hand combat against human-like raiders and fantastical creatures (e.g., centaurs, trolls, dragons). Players use axes and chained blades to battle enemies, often resulting in large blood-splatter effects and dismemberment. Players can perform finishing attacks that depict close-up impalement via bladed and hand-held weapons; repeated axe strikes to a creature's neck results in decapitation. The words “f**k” and “sh*t” are heard in the game.
c|selfinstruct|A color description has been provided. Find the CSS code associated with that color.\n\nA light red color with a medium light shade of pink
c|selfinstruct|Identify and fix bugs in the given code and rewrite it\n\nfor i in range(10)\n    print(Answer is:)\n    print(i)
s|selfinstruct|Make a list of common phrases for the given section of the paper.\n\nIntroduction
'''
