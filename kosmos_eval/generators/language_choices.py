"""The text of the two-option and passage language samples (Winograd, WinoGrande, PIQA, BoolQ, CB, COPA):
hand-written frames, no real dataset items. The story datasets' frames and the name lists are in
language_items.py; language.py turns both into each dataset's rows and files.
"""

from __future__ import annotations

# Winograd (WSC style twins): text before the pronoun, pronoun, the two endings, options, the option each
# ending refers to. The pronoun's position varies: mid-sentence, possessive ("his" -> "X's") and sentence-opening.
WSC_TWINS: tuple[tuple[str, str, tuple[str, str], tuple[str, str], tuple[int, int]], ...] = (
    ("The box crushed the cup because", "it", ("was so heavy.", "was so flimsy."), ("The box", "The cup"), (0, 1)),
    (
        "Anna lent her umbrella to Mia because",
        "she",
        ("was going out into the rain.", "was staying indoors all day."),
        ("Anna", "Mia"),
        (1, 0),
    ),
    (
        "The ice cream was left next to the oven.",
        "It",
        ("melted within minutes.", "had been baking bread all afternoon."),
        ("The ice cream", "The oven"),
        (0, 1),
    ),
    (
        "Sam took Tom's seat while",
        "his",
        ("back was turned.", "legs were aching."),
        ("Sam", "Tom"),
        (1, 0),
    ),
    (
        "The firefighters rescued the hikers because",
        "they",
        ("were trapped on the cliff.", "were trained for mountain rescues."),
        ("The firefighters", "The hikers"),
        (1, 0),
    ),
)

# Winogrande twins: sentence with "{a}"/"{b}" (two names of one gender, the options) or fixed options, and the
# two trigger phrases {t}: the first makes option 1 right, the second option 2
# fmt: off
WINOGRANDE_TWINS: tuple[tuple[str, tuple[str, str] | None, tuple[str, str]], ...] = (
    ("{a} always beat {b} at chess because _ {t}.", None, ("practised every day", "never practised")),
    ("The shelf could not hold the dictionary because the _ was too {t}.", ("shelf", "dictionary"), ("weak", "heavy")),
    ("{a} wore a coat but {b} did not, so _ felt {t} on the walk home.", None, ("warm", "cold")),
    ("The soup was colder than the tea because the _ had {t}.", ("soup", "tea"),
     ("been sitting out longer", "just been poured")),
    ("{a} asked {b} for directions because _ {t}.", None, ("was lost", "knew the city well")),
    ("The basil grew better on the windowsill than on the shelf because the _ got {t} sunlight.",
     ("windowsill", "shelf"), ("more", "less")),
    ("{a} lent money to {b} because _ {t}.", None, ("had plenty saved", "could not pay the rent")),
    ("The ice melted faster in the cup than in the bowl because the _ was {t}.", ("cup", "bowl"), ("warmer", "colder")),
    ("{a} had to help {b} carry the heavy boxes because _ was {t}.", None, ("stronger", "injured")),
)
# fmt: on

# PIQA: goal, the solution that works, one that does not
# fmt: off
PIQA: tuple[tuple[str, str, str], ...] = (
    ("To keep bread fresh for longer,", "store it in a sealed bag in a cool cupboard.",
     "leave it unwrapped on a sunny windowsill."),
    ("How do I loosen a tight jar lid?", "Run the lid under hot water for a minute, then twist it.",
     "Run the lid under cold water for a minute, then twist it."),
    ("To dry wet shoes overnight,", "stuff them with newspaper and leave them in a warm room.",
     "stuff them with wet towels and leave them in the fridge."),
    ("How can I stop a rug from sliding on a wooden floor?", "Put a rubber mat under the rug.",
     "Polish the floor under the rug with wax."),
    ("To remove a splinter from your finger,", "pull it out gently with clean tweezers.",
     "press it in further with the tip of a pencil."),
    ("To cool a hot drink faster,", "pour it into a wide, shallow cup and stir it.",
     "put a lid on it and wrap it in a thick towel."),
    ("How do you make a paper airplane fly straight?", "Fold both wings so they are the same size and shape.",
     "Fold one wing much larger than the other."),
    ("To sharpen a pencil without a sharpener,", "carefully shave the wood away with a small knife.",
     "rub the tip against a soft pillow."),
    ("How can I keep ants out of the sugar?", "Store the sugar in a jar with a tight lid.",
     "Store the sugar in an open bowl on the floor."),
    ("To find a small screw dropped on the carpet,", "sweep a magnet slowly over the carpet.",
     "pour a glass of water over the carpet."),
    ("How do I free a stuck zipper?", "Rub a pencil tip along the teeth and pull the tab gently.",
     "Rub a wet bar of chocolate along the teeth and pull the tab hard."),
    ("To carry hot soup to a picnic,", "pour it into a vacuum flask and close the lid.",
     "pour it into a paper bag and fold the top over."),
    ("How do you stop a door from slamming in the wind?", "Wedge a doorstop under the open door.",
     "Open all the windows in the room wider."),
    ("To make ice cubes that are easy to push out,", "freeze the water in a flexible silicone tray.",
     "freeze the water in a glass jar with a narrow neck."),
    ("To hang a picture straight,", "check it with a spirit level before you fix the nail.",
     "check it with a thermometer before you fix the nail."),
    ("To water a potted plant while away for a week,", "push an upturned bottle of water into the soil.",
     "put the plant in a dark cupboard with no water."),
    ("How can I soften butter that is too hard to spread?", "Leave it out at room temperature for half an hour.",
     "Put it back in the fridge for another hour."),
    ("To see better when reading at night,", "switch on a lamp and point it at the page.",
     "close the curtains and turn off the lamp."),
)
# fmt: on

# BoolQ: a passage ("Title -- text", as in the release) about an invented subject, one yes and one no question
# (lower-case, no question mark, as in the release)
# fmt: off
BOOLQ: tuple[tuple[str, str, str], ...] = (
    ("Lake Varen -- Lake Varen is a small freshwater lake in the hills above the village of Dellby. It is fed by two "
     "mountain streams and freezes over in most winters. Fishing is allowed from May to September.",
     "does lake varen freeze over in winter", "is lake varen a saltwater lake"),
    ("Harlow Bridge -- Harlow Bridge is a stone footbridge over the River Ashby. It was built in 1852 and was closed "
     "to motor traffic in 1960. Today it is used by walkers and cyclists.", "is harlow bridge made of stone",
     "can you drive a car across harlow bridge"),
    ("Tidewater Railway -- The Tidewater Railway is a narrow-gauge heritage line that runs for nine miles along the "
     "coast. Steam trains run at weekends from April to October, and a diesel service runs on weekdays.",
     "does the tidewater railway run steam trains", "is the tidewater railway open only in winter"),
    ("Kestrel Hall (game) -- Kestrel Hall is a board game for two to five players. Players collect feathers by "
     "moving around a map of a castle, and the first to gather ten feathers wins. A game lasts about forty minutes.",
     "can five people play kestrel hall together", "does a game of kestrel hall last several hours"),
    ("Grey-crested finch -- The grey-crested finch is a small songbird of dry scrubland. It feeds mainly on seeds "
     "and does not migrate, staying in the same area all year round.", "does the grey-crested finch eat seeds",
     "does the grey-crested finch fly south for the winter"),
    ("Marlow Lantern Festival -- The Marlow Lantern Festival is held on the first Saturday of October. Residents "
     "carry paper lanterns through the old town to the harbour, where the lanterns are hung on the boats.",
     "is the marlow lantern festival held in the autumn",
     "are the lanterns released into the sky at the marlow lantern festival"),
    ("Brindle Street Bakery -- Brindle Street Bakery is a family bakery that opened in 1978. It sells bread, "
     "pastries and cakes and is closed on Mondays. All of its bread is baked on the premises each morning.",
     "does brindle street bakery bake its own bread", "is brindle street bakery open on mondays"),
    ("Pellow Island -- Pellow Island is a small island with no permanent residents. It can be reached by ferry in "
     "the summer months, and visitors come to watch the seals that rest on its beaches.",
     "can you see seals on pellow island", "do people live on pellow island all year"),
    ("Northfield Academy -- Northfield Academy is a secondary school for students aged eleven to eighteen. It has "
     "about nine hundred students and is known for its music department, which runs three orchestras.",
     "does northfield academy have an orchestra", "is northfield academy a primary school"),
)
# fmt: on

# CB: a premise with an embedded clause, and hypotheses that it entails, contradicts and leaves open
# fmt: off
CB: tuple[tuple[str, str, str, str], ...] = (
    ("Helen checked the timetable twice before she left the house. She knew that the last bus had already gone, so "
     "she called a taxi.", "the last bus had already gone", "the last bus had not left yet", "the taxi was late"),
    ("B: Did your brother ever fix that old car of his? A: Oh, yes. He spent the whole summer on it, and I can tell "
     "you that it runs perfectly now.", "the car runs perfectly now", "the car still does not run",
     "the car is painted red"),
    ("The manager smiled as she read the report. She had not expected the shop to do well this year, but it turned "
     "out that the shop had made a profit after all.", "the shop had made a profit",
     "the shop had lost money this year", "the shop would open a second branch"),
    ("Nobody had told Paul that the museum closed at six. He arrived at half past six and found the doors locked.",
     "the museum closed at six", "the museum was open all evening", "Paul had visited the museum before"),
    ("A: Are you sure the neighbours are away? B: I saw them load their suitcases into the car this morning, and the "
     "house has been dark all evening. I really don't think they are home.", "the neighbours are away",
     "the neighbours are at home", "the neighbours went to the seaside"),
    ("Clara read the letter again. It said that her application had been accepted and that the course would begin in "
     "September. She couldn't stop smiling.", "her application had been accepted",
     "her application had been turned down", "the course would last two years"),
)
# fmt: on

# COPA: premise, question, the right alternative, the wrong one (no alternative opens with "I": the task
# lower-cases its first letter, as lm-eval does)
# fmt: off
COPA: tuple[tuple[str, str, str, str], ...] = (
    ("The ground was wet.", "cause", "It had rained overnight.", "The sun had been shining all day."),
    ("The girl dropped the glass.", "effect", "The glass broke.", "The glass filled with milk."),
    ("I put on my coat.", "cause", "It was cold outside.", "It was my birthday."),
    ("The baby started to cry.", "cause", "He was hungry.", "He was fast asleep."),
    ("The lights went out.", "effect", "The room became dark.", "The room became warmer."),
    ("I forgot to water the plant.", "effect", "Its leaves wilted.", "It grew new flowers."),
    ("The students cheered.", "cause", "Their teacher cancelled the exam.", "Their teacher set extra homework."),
    ("The car would not start.", "cause", "Its battery was dead.", "Its tank was full."),
    ("The woman opened her umbrella.", "cause", "It started to rain.", "The sky was clear."),
    ("The boy ate a whole bag of sweets.", "effect", "He got a stomach ache.", "He grew taller overnight."),
    ("The ice cream melted.", "cause", "It was left in the sun.", "It was kept in the freezer."),
    ("The dog barked at the door.", "cause", "A stranger knocked.", "The house was silent."),
    ("The river flooded the town.", "cause", "It had rained for a week.", "There had been a long drought."),
    ("I set my alarm clock.", "cause", "My train left early in the morning.", "My day off had begun."),
    ("The paint on the wall was still wet.", "effect", "We waited before hanging the picture.",
     "We hung the picture at once."),
    ("The runner crossed the finish line first.", "effect", "She received the gold medal.",
     "She had to run the race again."),
    ("The bread was hard and dry.", "cause", "It had been left out for days.", "It had just come out of the oven."),
    ("My phone battery was nearly empty.", "effect", "My phone went on the charger.", "My screen got brighter."),
)
# fmt: on
