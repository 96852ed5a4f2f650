"""The text of the language samples: hand-written frames and word lists, no real dataset items.

Kept apart from `language.py`, which turns these into each dataset's rows and files, so that the schema code
stays short and the prose can be read (and corrected) on its own. Every frame is written so that its gold
answer is the one a careful reader would pick; the wrong options are plausible in form but not in sense, as in
the real datasets. Slots: `{name}` a first name, `{He}`/`{he}`/`{His}`/`{his}`/`{him}` its pronouns, `{x}` and
`{y}` a frame's own filler pair, `{person}` "man" or "woman".
"""

from __future__ import annotations

NAMES = {
    "she": ("Alice", "Beth", "Clara", "Dana", "Elena", "Fiona", "Grace", "Hannah", "Iris", "Julia"),
    "he": ("Adam", "Ben", "Carl", "David", "Ethan", "Felix", "George", "Henry", "Isaac", "Jack"),
}
PRONOUNS = {
    "she": {"He": "She", "he": "she", "His": "Her", "his": "her", "him": "her"},
    "he": {"He": "He", "he": "he", "His": "His", "his": "his", "him": "him"},
}

# StoryCloze: four sentences, the right ending, the wrong one, and two fillers {x} (one story each)
STORIES: tuple[tuple[tuple[str, str, str, str], str, str, tuple[str, str]], ...] = (
    (
        (
            "{name} wanted to bake a {x} for {his} mother's birthday.",
            "{He} bought flour, eggs and sugar at the corner shop.",
            "{He} spent the whole afternoon in the kitchen.",
            "When {his} mother came home, the {x} was waiting on the table.",
        ),
        "{His} mother hugged {name} and thanked {him}.",
        "{His} mother was upset that nobody had remembered her birthday.",
        ("chocolate cake", "lemon pie"),
    ),
    (
        (
            "{name} was running late for work one morning.",
            "{He} could not find {his} keys anywhere.",
            "{He} searched the kitchen and then the bedroom.",
            "At last {he} found them in the pocket of {his} {x}.",
        ),
        "{name} hurried out of the door and just caught the bus.",
        "{name} threw the keys in the bin and kept on searching.",
        ("coat", "jeans"),
    ),
    (
        (
            "{name} planted {x} seeds in the garden in spring.",
            "{He} watered them every morning before school.",
            "Soon small green shoots pushed up through the soil.",
            "By the end of the summer the plants were tall and strong.",
        ),
        "{name} picked a basket of ripe {x}es for dinner.",
        "{name} was sad that not a single seed had grown.",
        ("tomato", "potato"),
    ),
    (
        (
            "{name} had a {x} test on Friday.",
            "{He} studied for an hour every evening that week.",
            "{He} asked {his} teacher about the hardest questions.",
            "On Friday morning {he} felt calm and ready.",
        ),
        "{name} got one of the best marks in the class.",
        "{name} failed the test because {he} had not studied at all.",
        ("maths", "history"),
    ),
    (
        (
            "{name} had always wanted a {x}.",
            "{He} saved {his} pocket money for a whole year.",
            "Finally {he} had enough to pay the adoption fee.",
            "{He} went to the animal shelter with {his} father.",
        ),
        "{name} came home with a happy little {x}.",
        "{name} decided that {he} had never liked animals.",
        ("puppy", "kitten"),
    ),
    (
        (
            "{name} planned a picnic in the park with {his} friends.",
            "{He} packed sandwiches, fruit and a bottle of {x}.",
            "Just as they sat down on the grass, dark clouds rolled in.",
            "Soon it began to rain heavily.",
        ),
        "Everyone ran to the car and ate the sandwiches there.",
        "They lay in the warm sunshine for the rest of the afternoon.",
        ("lemonade", "juice"),
    ),
    (
        (
            "{name} signed up for a {x} race.",
            "{He} trained in the park every weekend.",
            "On the morning of the race {he} felt nervous.",
            "{He} kept a steady pace all the way around the course.",
        ),
        "{name} crossed the finish line with a big smile.",
        "{name} had never run a single step in {his} life.",
        ("five-kilometre", "ten-kilometre"),
    ),
    (
        (
            "One morning {name} found that {his} bicycle had a flat {x} tyre.",
            "{He} did not have the money to take it to a repair shop.",
            "{He} watched a video about mending punctures.",
            "Then {he} patched the inner tube with a repair kit.",
        ),
        "The next day {name} rode the bicycle to school again.",
        "The tyre stayed flat because {name} had done nothing to it.",
        ("front", "back"),
    ),
    (
        (
            "{name} moved to a new town for {his} job.",
            "{He} did not know anyone there.",
            "One evening {he} joined the local {x}.",
            "The members were friendly and welcoming.",
        ),
        "Soon {name} had made several good friends.",
        "{name} felt lonelier than ever because nobody spoke to {him}.",
        ("chess club", "walking group"),
    ),
)

# HellaSwag, ActivityNet style: label, ctx_a, ctx_b (lower-case, as in the release), right ending, wrong ones
ACTIVITIES: tuple[tuple[str, str, str, str, tuple[str, str, str]], ...] = (
    (
        "Washing dishes",
        "A {person} stands at a kitchen sink full of dirty plates. {He} turns on the tap and adds soap to the water.",
        "{he}",
        "scrubs each plate with a sponge and puts it on the rack to dry.",
        (
            "throws the plates out of the window into the garden.",
            "plays a violin while the water runs onto the ceiling.",
            "puts the sponge in the oven and walks away from the camera.",
        ),
    ),
    (
        "Raking leaves",
        "A {person} is standing in a yard covered with yellow leaves. {He} picks up a large rake.",
        "{he}",
        "pulls the leaves into a big pile next to the fence.",
        (
            "dives into a swimming pool while holding the rake.",
            "paints the leaves blue and hangs them back on the tree.",
            "puts the rake in a blender and switches it on.",
        ),
    ),
    (
        "Painting fence",
        "A {person} opens a can of white paint next to a wooden fence. {He} dips a wide brush into the can.",
        "then {he}",
        "spreads the paint along the boards in long, even strokes.",
        (
            "drinks the paint and smiles at the camera.",
            "pours the paint into the grass and starts to mow it.",
            "hides the brush under the fence and goes to sleep.",
        ),
    ),
    (
        "Playing guitar",
        "A {person} sits on a chair holding an acoustic guitar. {He} tunes the strings one by one.",
        "the {person}",
        "starts strumming a slow song and taps one foot to the beat.",
        (
            "uses the guitar as a paddle and rows across the room.",
            "pulls all the strings off and eats them one at a time.",
            "puts the guitar in a bath of water and closes the lid.",
        ),
    ),
    (
        "Making a sandwich",
        "A {person} puts two slices of bread on a cutting board. {He} spreads butter on both slices.",
        "{he}",
        "adds cheese and lettuce and presses the slices together.",
        (
            "glues the bread to the wall and walks out of the kitchen.",
            "puts the butter knife on the stove and waits for it to grow.",
            "sews the two slices together with a needle and thread.",
        ),
    ),
    (
        "Walking the dog",
        "A {person} clips a leash onto a small dog's collar. The dog wags its tail next to the front door.",
        "the {person}",
        "opens the door and walks the dog down the street.",
        (
            "ties the leash to the ceiling and climbs into a cupboard.",
            "gives the leash to the dog and drives away in a car.",
            "puts the dog in the washing machine and turns it on.",
        ),
    ),
)

# HellaSwag, WikiHow style (the release's [header]/[title]/[step]/[substeps] markup is kept; the reader strips it)
HOWTOS: tuple[tuple[str, str, str, str, tuple[str, str, str]], ...] = (
    (
        "Home and Garden",
        "[header] How to water a houseplant [title] Check the soil first. [step] Push a finger about an inch "
        "into the soil.",
        "if it feels dry,",
        "it is time to water. [substeps] Pour the water slowly until it drains from the bottom of the pot.",
        (
            "paint the leaves green so that they look healthy.",
            "put the plant in the freezer overnight. [title] Shake the pot hard.",
            "call the plant by its name and wait for an answer.",
        ),
    ),
    (
        "Food and Entertaining",
        "[header] How to boil an egg [title] Place the egg in a small pan. [step] Cover it with cold water.",
        "",
        "[title] Bring the water to a boil, then let it simmer for about nine minutes. [step] Cool the egg in "
        "cold water before you peel it.",
        (
            "[title] Throw the egg at the wall to test it. [step] Boiled eggs always bounce.",
            "[title] Wrap the pan in a blanket. [step] Leave it in the garden for a week.",
            "[title] Crack the egg into your shoe. [step] Wear the shoe until the egg is cooked.",
        ),
    ),
    (
        "Personal Care and Style",
        "[header] How to tie a scarf [title] Fold the scarf in half along its length. [step] Drape it around "
        "the back of your neck.",
        "pull",
        "both loose ends through the loop and tighten it gently.",
        (
            "the scarf over your shoes and tie it to a chair.",
            "the scarf into small pieces and scatter them outside.",
            "your neck through the scarf until the scarf disappears.",
        ),
    ),
    (
        "Pets and Animals",
        "[header] How to brush a cat [title] Choose a quiet time. [step] Wait until your cat is calm and relaxed.",
        "",
        "[title] Brush gently in the direction the fur grows. [step] Start at the head and work toward the tail.",
        (
            "[title] Brush the cat's fur against the grain as hard as you can. [step] Cats enjoy loud noises.",
            "[title] Put the cat in the bath with the brush. [step] Leave the room and close the door.",
            "[title] Ask the cat to brush itself. [step] Give it the brush and a mirror.",
        ),
    ),
    (
        "Education and Communications",
        "[header] How to write a thank-you note [title] Start with a greeting. [step] Address the person by name.",
        "next,",
        "thank them for the gift and say how you plan to use it.",
        (
            "complain that the gift was the wrong colour and ask for money.",
            "leave the card blank and post it without a stamp.",
            "write the note on the back of the gift and return it.",
        ),
    ),
    (
        "Sports and Fitness",
        "[header] How to stretch before a run [title] Stand up straight. [step] Keep your feet about "
        "shoulder-width apart.",
        "",
        "[title] Bend forward slowly and reach toward your toes. [step] Hold the stretch for about twenty seconds.",
        (
            "[title] Sit down and eat a large meal. [step] Start running as fast as you can straight away.",
            "[title] Jump off a chair with your eyes closed. [step] Land on one hand.",
            "[title] Lie on the floor and fall asleep. [step] Your legs will stretch by themselves.",
        ),
    ),
)
