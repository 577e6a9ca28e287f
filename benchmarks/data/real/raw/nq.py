# NQ-open dev: real Google search queries; every item is `simple`.
ITEMS = r'''
when was the last time anyone was on the moon
who wrote he ain't heavy he's my brother lyrics
how many seasons of the bastard executioner are there
when did the eagles win last super bowl
who won last year's ncaa women's basketball
when did the isle of wight become an island
love yourself by justin bieber is about who
who was the ruler of england in 1616
what is the hot coffee mod in san andreas
what is the maximum data rate for the 802.11a standard select one
which state is located in the centre of india
who sang i ran all the way home
where did the last name wallace come from
who was the actor that played ben stone on law and order
who does the voice of nala in the lion king
what is the oath that new citizens take
who is under the mask of darth vader
who had a baby at 100 in the bible
what age do you need to be to buy a bb gun
ethiopia flight 961 crashes in to the sea
where was percy jackson and the olympians filmed
how many seasons of vampire diaries r there
how many episodes are there in dragon ball z
when was the first australian prime minister elected
who is the girl in green day 21 guns
when was the south asian association for regional co-operation (saarc) formed
who did bette midler portray in the rose
where did the butchers in the slaughterhouse cases live
who developed the concept of total quality management
where does no game no life anime end
what are the three fifty shades of grey books
who has the power (judicial) to make decisions in courts of law
what are the ranks in the us navy
i was a great islamic scholar and mathematician who died in 1131 ce
last episode of what happens to my family
when is the last time the vikings were in the nfc championship
where is lord's prayer found in bible
location of the ten commandments in the bible
where did the allies go after north africa
what is the meaning of veronica in english
what is the name of the main artery which takes blood from the heart to the body
an object that moves around an external axis is said to be
architectural elements forming rib vaults eg wells cathedral
where does a roadrunner live in the desert
what's the dog's name on tom and jerry
where does the path train stop in newark
when did they stop cigarette advertising on television
coldplay song i will try to fix you
points on a sphere or angles in a circle are measured in units called
the oligodynamic effect is a phenomenon that describes
how many games in a row have the uconn women's basketball team won
is there a name for the at symbol
when did marathon change its name to snickers
who captained the first european ship to sail around the tip of africa
who has the power to approve or veto legislation constitution
what was the initial effect of the transition from command to market economies in eastern europe
how many pieces in a terry's chocolate orange
jonny cash one piece at a time car
what is the minimum wage in france per hour
describe the three phases of the normal blood clotting process
where is the tibia and fibula bone located
types of skiing in the winter olympics 2018
under article 1 what is the minimum age required to serve in the house of representatives
who was the great wall of china built to defend against
how much money did it cost to make gta v
what is the angle of the tower of pisa
what is the share of agriculture in indian economy
where do you get a cashiers check from
what is the meaning of cc and bcc
when do you celebrate birthday if born on feb 29
where does new york drinking water come from
what percentage of sunlight is captured by plants to convert it into food energy
who started ww2 and how did it start
how tall is the actor who plays hagrid in harry potter
bible verse taking the lord's name in vain
when was the minimum wage established in the united states
'''
