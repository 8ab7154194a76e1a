@fast @spec-edge
Feature: Tensors keep their elements through reshapes and batching
  Every activation and weight a model holds is a tensor. Before and after
  quantization, tensors are reshaped and joined into batches; neither may
  lose, reorder or invent an element, and a request that cannot be met is
  refused with a message naming the shapes involved. The tensors hold
  small whole numbers or seeded random pixels; every check is exact (no
  tolerance), since reshaping and joining copy elements and compute none.

  @R-edge-4
  Rule: Reshaping keeps every element, in order

    Background:
      Given a tensor of shape 2x3 holding the numbers 1 to 6

    Scenario Outline: A 2x3 tensor viewed as <target>
      When it is reshaped to <target>
      Then its shape is <target>
      And its elements are still the numbers 1 to 6 in order

      Examples:
        | target |
        | 3x2    |
        | 6      |
        | 1x6    |
        | 2x1x3  |

    Scenario: A reshape that would change the number of elements is refused
      When it is reshaped to 4x2
      Then it is refused with an error naming the shapes 2x3 and 4x2

  @R-edge-2
  Rule: Batches are joined along the batch dimension

    Background:
      Given a batch "A" of 2 images of 28x28 pixels

    Scenario: Two batches of images become one batch
      Given a batch "B" of 3 images of 28x28 pixels
      When batches "A" and "B" are concatenated
      Then the result is a batch of 5 images of 28x28 pixels
      And its images are those of "A" followed by those of "B"

    Scenario: Batches whose images differ in size are refused
      Given a batch "B" of 3 images of 14x14 pixels
      When batches "A" and "B" are concatenated
      Then it is refused with an error naming the shapes 2x28x28 and 3x14x14
