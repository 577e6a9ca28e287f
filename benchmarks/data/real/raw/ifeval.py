# ruff: noqa: E501  (verbatim transcriptions of public data: lines are as long as the items)
# IFEval input_data.jsonl: its constraints are artificial, so only a few are kept; `simple` unless
# the ask itself is of another task (none of the kept ones is).
ITEMS = r'''
I am planning a trip to Japan, and I would like thee to write an itinerary for my journey in a Shakespearean style. You are not allowed to use any commas in your response.
Write a resume for a fresh high school graduate who is seeking their first job. Make sure to include at least 12 placeholder represented by square brackets, such as [address], [name].
Write a letter to a friend in all lowercase letters ask them to go and vote.
Write a blog post with 400 or more words about the benefits of sleeping in a hammock.
Can you help me make an advertisement for a new product? It's a diaper that's designed to be more comfortable for babies and I want the entire output in JSON format.
Write a detailed review of the movie "The Social Network". Your entire response should be in English and all lower case (no capital letters whatsoever).
Write two jokes about rockets. Do not contain commas in your response. Separate the two jokes with 6 asterisk symbols: ******.
Are hamburgers sandwiches? Please respond using only the Kannada language, no other language is allowed.
Write a poem about how I am missing my classes. The poem must have 4 sections marked with SECTION X. Finish the poem with this exact phrase: "Can I get my money back for the classes I missed?"
Rewrite the following statement to make it sound more formal, like a President of the United States:\n"Hi guys. The work was done to add in a fix for the issue that was observed in the field with the SSO. We are working with our collaborators closely. We will get it done. Thanks ya all."\nDo not include the following keywords: field, thanks, issue, collaborator.
What happened when the Tang dynasty of China was in power? Make sure to use the word war at least 8 times, and the word peace at least 10 times.
Write an ad copy for a new product, a digital photo frame that connects to your social media accounts and displays your photos. Respond with at most 150 words.
Write a poem about two people who meet in a coffee shop and end your entire response with the exact phrase "Is there anything else I can help with?"
Write a funny haiku about moms, containing keywords "mom" and "mother" in your response.
'''
