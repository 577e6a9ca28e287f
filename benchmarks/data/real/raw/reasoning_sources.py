# ruff: noqa: E501  (verbatim transcriptions of public data: lines are as long as the items)
# Reasoning sources: every item is `reasoning` (source-level mapping, ../PROVENANCE.md).
# MATH problems as RISE ships them (JSON escapes kept: decoded by build.py).
MATH = r'''
What is the value of $101^{3} - 3 \\cdot 101^{2} + 3 \\cdot 101 -1$?
A fair eight-faced die with faces numbered 1, 2, 3, 4, 5, 6, 7 and 8 is tossed six times and the sequence of numbers is recorded. How many sequences are possible?\n\n[asy]\ndraw((0,0)--(10,10)--(-2,8)--cycle);\ndraw((-2,8)--(0,0)--(-11,10)--cycle);\ndraw((-2,8)--(0,23)--(10,10));\ndraw((0,23)--(-11,10));\ndraw((0,23)--(2.5,13)--(10,10),dashed);\ndraw((2.5,13)--(-11,10),dashed);\ndraw((2.5,13)--(0,0),dashed);\n[/asy]
The digits 2, 3, 4, 7 and 8 will be put in random order to make a positive five-digit integer. What is the probability that the resulting integer will be divisible by 11? Express your answer as a common fraction.
How many distinct positive integers can be represented as the difference of two numbers in the set $\\{1, 3, 5, 7, 9, 11, 13\\}$?
Our club has 20 members, 10 boys and 10 girls.  In how many ways can we choose a president and a vice-president if we have no restrictions other than the same person can't hold both offices?
Six 6-sided dice are rolled. What is the probability that three of the dice show prime numbers and the rest show composite numbers?
Legolas flips a fair coin 2008 times, and Gimli flips another fair coin 2009 times. What is the probability that Gimli flips more heads than Legolas?
Randy presses RAND on his calculator twice to obtain two random numbers between 0 and 1. Let $p$ be the probability that these two numbers and 1 form the sides of an obtuse triangle.  Find $4p$.
Determine the number of ways to arrange the letters of the word THAT.
Mary has $6$ identical basil plants, and three different window sills she can put them on. How many ways are there for Mary to put the plants on the window sills?
How many ways are there for 8 people to sit around a circular table if none of Alice, Bob, and Eve (three of the 8 people) want to sit next to each other? Two seatings are considered the same if one is a rotation of the other.
Krishanu and Shaunak each pick an integer at random between 1 and 10, inclusive. What is the probability that the product of their numbers is more than 10? Express your answer as a common fraction.
In how many ways can 6 girls and 2 boys sit in a row if the 2 boys insist on sitting next to each other?
How many different triangles can be formed using three vertices of a hexagon as vertices of a triangle? [asy]size(75);\ndraw(dir(0)--dir(30)--dir(110)--dir(175)--dir(250)--dir(300)--cycle);\n[/asy]
$a$ is chosen from the set $\\{1,2,3,4\\}$, and $b$ is chosen from the set $\\{5,6,7,8,9\\}$. What is the probability that the product $ab$ is a prime number?
A 12-slice pizza was made with only pepperoni and mushroom toppings, and every slice has at least one topping. Only five slices have pepperoni, and exactly eight slices have mushrooms. How many slices have both pepperoni and mushrooms?
Find the number of solutions to the equation\n\\[\\frac{1}{(7 - x)(1 + x)(1 - x)} + \\frac{3x^2 - 18x - 22}{(x^2 - 1)(x - 7)} + \\frac{3}{x - 2} = \\frac{3}{(x - 1)(x - 2)}.\\]
Consider the following six statements:\n\n1. $x < x^2 < x^3$\n2. $x < x^3 < x^2$\n4. $x^2 < x < x^3$\n8. $x^2 < x^3 < x$\n16. $x^3 < x < x^2$\n32. $x^3 < x^2 < x$\n\n\nEnter the sum of the labels of statement that hold for some value of $x.$  For example, if you think the statements with labels 2 and 8 hold for some value of $x,$ then enter $2 + 8 = 10.$
Solve for $x:$ $\\log_{x} 2+\\log_{x} 4=3$
A sequence of positive real numbers $\\{a_1, a_2, a_3, \\dots\\}$ has the property that for $i \\ge 2,$ each $a_i$ is equal to the sum of all the previous terms.  If $a_{19} = 99,$ then what is $a_{20}$?
Let $a,$ $b,$ $c,$ and $d$ be real numbers such that $a^2 + b^2 = 8$ and $c^2 + d^2 = 13.$  Find\n\\[(ad - bc)^2 + (ac + bd)^2.\\]
Let \\[f(n) =\n\\begin{cases}\n4n+3 &\\text{if }n<a, \\\\\n7n-12 &\\text{if }n\\ge{a}.\n\\end{cases}\n\\]Find $a$ if the graph of $y=f(n)$ is continuous.
What is the equation of the oblique asymptote of the graph of $\\frac{2x^2+x-13}{2x-5}$?\n\nEnter your answer in the form $y = mx + b.$
For which values of $k$ does the quadratic $kx^2 - 3kx + 4k + 7 = 0$ have real roots?
Use synthetic division to divide $x^4-3x^3+4x^2+11x-9$ by $x^2-3x+2$ and find the remainder.
Let\n\\[f(x) = \\frac{-px - 3}{-qx + 3},\\]and let $g(x)$ be the inverse of $f(x).$  If $(7,-22)$ lies on both of the graphs of $y = f(x)$ and $y = g(x),$ then find $p + q.$
Find the distance between the two foci of the hyperbola given by \\[-6x^2 + 5y^2 + 24x + 20y = 64.\\]
Find the number of real roots of $x^3 + 3x + 5 = 0.$
How many distinct four-tuples $(a,b,c,d)$ of rational numbers are there with \\[a\\log_{10} 2+b\\log_{10} 3+c\\log_{10} 5+d\\log_{10} 7=2005?\\]
Suppose $f(x) = -x^2+3x+4$ and $g(x) = -2x^3+9x^2-x-12$. Every root of $f(x)$ is also a root of $g(x)$. What is the third root of $g(x)$ (that is not a root of $f(x)$)?
Factor $x^3 - 9x^2 + 27x - 35$.
Compute the smallest real number $x$ which satisfies the equation \\[\\sqrt{x^2 - 2x + 2} + \\sqrt{-x^2 + 6x - 2} = 2\\sqrt{x}.\\]
Find the sum of all complex values of $a,$ such that the polynomial $x^4 + (a^2 - 1) x^2 + a^3$ has exactly two distinct complex roots.
'''
FERMI = r'''
How many golf balls put into the worlds oceans would it take to submerge all of the land on earth from the displaced water?
What fraction of the sun's energy output is intercepted by the earth?
How many liters of water comes out of a water fountain in a mall per day?
The effect of air pressure was demonstrated in 1654 in Magdeburg, Germany with an impressive experiment. Two hollow metal hemispheres with a flat metal rim (flange) were placed together and the air removed from the interior with a primitive vacuum pump. The external pressure of the air pushed them together. When they tried to pull the hemispheres apart using two rings welded to the hemispheres, they could not be pulled apart even by a number of people pulling together. The sphere produced by putting the two hemispheres together is about the size of a basketball. Estimate the force needed to pull them apart.
What would be the effect to the oceans If all fishing was banned for four days once a year across the planet?
How much energy does it take to repair damaged tissue?
How many RBCs equal one cc in volume?
How much does RFK baseball stadium weigh?
What's the smallest population the human race can reach that would allow it to re-populate?
How much of the Earth's atmosphere has passed through a combustion or jet engine?
If all of the cars in the U.S. got at least 25 miles per gallon, how many gallons of gas would be saved this year?
How many packets are needed to measure a single line of M&Ms to a distance of 100m?
The SO bacterium takes 6 minutes to reproduce. If the SO bacteria don't die, how many hours will it take for two to reproduce and make a volume equal to that of the earth?
How many seconds would it take the sound from a volcano's eruption to travel around the Earth?
How much CO2 do we save in winter on heating when the earth gets 2C warmer?
How many drops of water are needed to fill an Olympic swimming pool?
How many jumps would you need to travel across a carpet?
How many gallons of water in the Atlantic ocean?
What is the volume (cubic meters) of the earth's oceans?
Estimate the total number of sheets of 8.5 x 11 inch paper used by all the students at the University of Maryland in one semester.
How many kilograms of co2 would i have to breath out to lose 1 kg of fat?
How much rice can fit in an average sized house?
How much extra time would Americans spend in the car if the speed limits were decreased by 10 mph, assuming everyone strictly adheres to speed limits?
What is the mass, g, of the Earth?
How much money is spent in the school canteen in a week?
How much would the human skeleton weigh if it was made of iron?
What percentage of people have the ability to whistle?
'''
BBH_DATE = r'''
Today is Christmas Eve of 1937. What is the date tomorrow in MM/DD/YYYY?\nOptions:\n(A) 12/11/1937\n(B) 12/25/1937\n(C) 01/04/1938\n(D) 12/04/1937\n(E) 12/25/2006\n(F) 07/25/1937
In the UK, people usually put the day before the month when formatting the date. Therefore, today is 02/01/1987 to them. What is the date a month ago in MM/DD/YYYY?\nOptions:\n(A) 12/02/1986\n(B) 12/01/1986\n(C) 03/02/1986\n(D) 12/02/2032\n(E) 12/02/2062\n(F) 02/06/1987
Jane and John married on Jan 2, 1958. It is their 5-year anniversary today. What is the date one week from today in MM/DD/YYYY?\nOptions:\n(A) 01/16/1961\n(B) 01/09/1961\n(C) 01/09/1963\n(D) 03/09/1960\n(E) 07/09/1960\n(F) 02/28/1961
Today's meeting is rescheduled to 11 am tomorrow, 10/16/1924. What is the date one week from today in MM/DD/YYYY?\nOptions:\n(A) 10/22/1944\n(B) 10/22/1924\n(C) 10/07/1924\n(D) 10/21/1924\n(E) 08/22/1925\n(F) 11/21/1924
On May 9th, 2017 Jane bought 40 eggs. She ate one per day. Today she ran out of eggs. What is the date 24 hours later in MM/DD/YYYY?\nOptions:\n(A) 06/19/2017\n(B) 07/17/2017\n(C) 06/20/2017\n(D) 06/18/2017\n(E) 06/15/2017\n(F) 07/10/2017
Jane thinks today is 6/18/2019, but John thinks today is 6/19/2019. Jane is correct. What is the date yesterday in MM/DD/YYYY?\nOptions:\n(A) 06/17/2063\n(B) 05/18/2019\n(C) 05/20/2019\n(D) 06/17/2019\n(E) 05/13/2019\n(F) 06/08/2019
Yesterday was 12/31/1929. Today could not be 12/32/1929 because December has only 31 days. What is the date today in MM/DD/YYYY?\nOptions:\n(A) 01/08/1930\n(B) 01/06/1930\n(C) 01/01/1930\n(D) 12/31/1929\n(E) 10/01/1930\n(F) 02/27/1930
Jane quited her job on Mar 20, 2020. 176 days have passed since then. What is the date one year ago from today in MM/DD/YYYY?\nOptions:\n(A) 09/20/2019\n(B) 10/01/2019\n(C) 10/24/2019\n(D) 09/12/1970\n(E) 09/12/2019
Today is the palindrome day of 2020, because the MMDDYYYY format of the date is the same backwards as forwards. What is the date a month ago in MM/DD/YYYY?\nOptions:\n(A) 01/01/2020\n(B) 01/02/2020\n(C) 10/02/2019\n(D) 11/05/2019\n(E) 01/02/1931\n(F) 01/03/2020
May 6, 1992 is like yesterday to Jane, but that is actually ten years ago. What is the date today in MM/DD/YYYY?\nOptions:\n(A) 05/06/2095\n(B) 05/06/1935\n(C) 05/06/1912\n(D) 08/06/2002\n(E) 05/06/2002\n(F) 05/06/1964
Today is Sep 9, 1909. What is the date 10 days ago in MM/DD/YYYY?\nOptions:\n(A) 08/29/1909\n(B) 08/30/1967\n(C) 08/30/1909\n(D) 08/30/1977\n(E) 08/02/1909\n(F) 08/16/1909
2015 is coming in 36 hours. What is the date one week ago from today in MM/DD/YYYY?\nOptions:\n(A) 12/22/2040\n(B) 12/23/2014\n(C) 12/22/2014\n(D) 01/05/2015\n(E) 12/22/2086\n(F) 02/06/2015
Jane was born on the last day of Feburary in 2001. Today is her 16-year-old birthday. What is the date tomorrow in MM/DD/YYYY?\nOptions:\n(A) 03/25/2017\n(B) 03/01/2017\n(C) 03/01/2116\n(D) 02/20/2017\n(E) 03/17/2017\n(F) 03/01/2076
The concert was scheduled to be on 06/01/1943, but was delayed by one day to today. What is the date yesterday in MM/DD/YYYY?\nOptions:\n(A) 05/27/1943\n(B) 06/04/1943\n(C) 06/01/2005\n(D) 03/20/1943\n(E) 05/24/1943\n(F) 06/01/1943
Jane got her job in 2016. Today is her 3-year work anniversary. She still remember that on Dec 2, her second day at work, she spilled coffee on her laptop. What is the date tomorrow in MM/DD/YYYY?\nOptions:\n(A) 08/02/2020\n(B) 12/02/1950\n(C) 11/18/2019\n(D) 12/02/2019\n(E) 01/02/2020\n(F) 12/01/2019
'''
BBH_LIES = r'''
Question: Sherrie tells the truth. Vernell says Sherrie tells the truth. Alexis says Vernell lies. Michaela says Alexis tells the truth. Elanor says Michaela tells the truth. Does Elanor tell the truth?
Question: Kristian lies. Sherrie says Kristian lies. Delbert says Sherrie lies. Jerry says Delbert tells the truth. Shalonda says Jerry tells the truth. Does Shalonda tell the truth?
Question: Tamika lies. Raymond says Tamika tells the truth. Willian says Raymond tells the truth. Shaunda says Willian lies. Elanor says Shaunda tells the truth. Does Elanor tell the truth?
Question: Jim lies. Crista says Jim lies. Vernell says Crista tells the truth. Bernita says Vernell tells the truth. Millicent says Bernita tells the truth. Does Millicent tell the truth?
Question: Rashida tells the truth. Jim says Rashida lies. Alejandro says Jim lies. Tamika says Alejandro tells the truth. Fidel says Tamika lies. Does Fidel tell the truth?
Question: Raymond tells the truth. Sal says Raymond lies. Alexis says Sal lies. Helene says Alexis lies. Elanor says Helene lies. Does Elanor tell the truth?
'''
BBH_DEDUCTION = r'''
The following paragraphs each describe a set of three objects arranged in a fixed order. The statements are logically consistent within each paragraph. On a branch, there are three birds: a blue jay, a quail, and a falcon. The falcon is to the right of the blue jay. The blue jay is to the right of the quail.\nOptions:\n(A) The blue jay is the second from the left\n(B) The quail is the second from the left\n(C) The falcon is the second from the left
The following paragraphs each describe a set of three objects arranged in a fixed order. The statements are logically consistent within each paragraph. In an antique car show, there are three vehicles: a motorcyle, a limousine, and a convertible. The motorcyle is newer than the limousine. The convertible is newer than the motorcyle.\nOptions:\n(A) The motorcyle is the oldest\n(B) The limousine is the oldest\n(C) The convertible is the oldest
The following paragraphs each describe a set of three objects arranged in a fixed order. The statements are logically consistent within each paragraph. A fruit stand sells three fruits: apples, peaches, and mangoes. The mangoes are less expensive than the peaches. The apples are less expensive than the mangoes.\nOptions:\n(A) The apples are the second-most expensive\n(B) The peaches are the second-most expensive\n(C) The mangoes are the second-most expensive
The following paragraphs each describe a set of three objects arranged in a fixed order. The statements are logically consistent within each paragraph. In a golf tournament, there were three golfers: Eve, Rob, and Mel. Rob finished below Mel. Mel finished below Eve.\nOptions:\n(A) Eve finished first\n(B) Rob finished first\n(C) Mel finished first
The following paragraphs each describe a set of three objects arranged in a fixed order. The statements are logically consistent within each paragraph. On a shelf, there are three books: a gray book, a purple book, and a red book. The purple book is to the left of the red book. The gray book is to the left of the purple book.\nOptions:\n(A) The gray book is the leftmost\n(B) The purple book is the leftmost\n(C) The red book is the leftmost
'''

# Third round (issue 16): the first rows of three more BBH tasks, near duplicates skipped.
BBH_NAVIGATE = r'''
If you follow these instructions, do you return to the starting point? Always face forward. Take 1 step backward. Take 9 steps left. Take 2 steps backward. Take 6 steps forward. Take 4 steps forward. Take 4 steps backward. Take 3 steps right.\nOptions:\n- Yes\n- No
If you follow these instructions, do you return to the starting point? Always face forward. Take 10 steps left. Take 10 steps forward. Take 7 steps forward. Take 2 steps forward.\nOptions:\n- Yes\n- No
If you follow these instructions, do you return to the starting point? Take 1 step. Take 10 steps. Take 4 steps. Take 1 step. Take 10 steps. Turn right. Turn around.\nOptions:\n- Yes\n- No
If you follow these instructions, do you return to the starting point? Always face forward. Take 1 step right. Take 3 steps left. Take 2 steps right.\nOptions:\n- Yes\n- No
If you follow these instructions, do you return to the starting point? Take 8 steps. Turn around. Take 8 steps.\nOptions:\n- Yes\n- No
If you follow these instructions, do you return to the starting point? Take 3 steps. Turn around. Take 3 steps. Turn right.\nOptions:\n- Yes\n- No
'''

BBH_COUNTING = r'''
I have a flute, a piano, a trombone, four stoves, a violin, an accordion, a clarinet, a drum, two lamps, and a trumpet. How many musical instruments do I have?
I have an apple, three bananas, a strawberry, a peach, three oranges, a plum, a raspberry, two grapes, a nectarine, and a blackberry. How many fruits do I have?
I have a fridge, a chair, and a microwave. How many objects do I have?
I have a fish, a bear, and a frog. How many animals do I have?
I have a yam, a cauliflower, a garlic, two lettuce heads, a head of broccoli, a potato, a stalk of celery, and an onion. How many vegetables do I have?
I have a duck, a peach, a strawberry, a fish, two chickens, a bear, and a banana. How many animals do I have?
'''

BBH_TEMPORAL = r'''
Today, Susan went to the coffee shop. Between what times could they have gone?\nWe know that:\nSusan woke up at 7am.\nLinda saw Susan driving to the water park from 7am to 11am.\nJohn saw Susan buying clothes at the mall from 11am to 12pm.\nJessica saw Susan taking photos near the Eiffel Tower from 12pm to 1pm.\nSteven saw Susan buying lunch at the deli from 1pm to 2pm.\nThomas saw Susan reading at the library from 2pm to 6pm.\nThe coffee shop was closed after 9pm.\nBetween what times could Susan have gone to the coffee shop?\nOptions:\n(A) 6pm to 9pm\n(B) 7am to 11am\n(C) 1pm to 2pm\n(D) 2pm to 6pm
Today, Emily went to the soccer field. Between what times could they have gone?\nWe know that:\nEmily woke up at 10am.\nLinda saw Emily waiting at the train station from 10am to 12pm.\nAshley saw Emily fixing their computer at the electronic store from 12pm to 1pm.\nJohn saw Emily walking towards the Statue of Liberty from 1pm to 2pm.\nThe soccer field was closed after 8pm.\nBetween what times could Emily have gone to the soccer field?\nOptions:\n(A) 12pm to 1pm\n(B) 10am to 12pm\n(C) 2pm to 8pm\n(D) 1pm to 2pm
Today, James went to the beach. Between what times could they have gone?\nWe know that:\nJames woke up at 5am.\nSean saw James walking towards the Statue of Liberty from 5am to 6am.\nMichael saw James driving to the water park from 6am to 7am.\nAnthony saw James reading at the library from 7am to 3pm.\nWilliam saw James getting a coffee at the cafe from 4pm to 9pm.\nThe beach was closed after 9pm.\nBetween what times could James have gone to the beach?\nOptions:\n(A) 7am to 3pm\n(B) 5am to 6am\n(C) 4pm to 9pm\n(D) 3pm to 4pm
Today, Elizabeth went to the amusement park. Between what times could they have gone?\nWe know that:\nElizabeth woke up at 6am.\nSarah saw Elizabeth taking photos near the Leaning Tower of Pisa from 8am to 9am.\nJessica saw Elizabeth working out at the gym from 9am to 3pm.\nBetty saw Elizabeth watching a movie at the theater from 3pm to 7pm.\nJames saw Elizabeth stretching at a yoga studio from 7pm to 8pm.\nThe amusement park was closed after 8pm.\nBetween what times could Elizabeth have gone to the amusement park?\nOptions:\n(A) 8am to 9am\n(B) 6am to 8am\n(C) 3pm to 7pm\n(D) 7pm to 8pm
'''
